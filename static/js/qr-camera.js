/*
 * Reading a QR code with the phone's camera, for the scanner page and the home page.
 *
 * `QrCamera.attach(video, handlers)` returns { start, stop, running }.  Frames are scaled down
 * and handed to the vendored jsQR decoder a few times a second (not every animation frame, to
 * spare a cheap phone's battery); the camera stops as soon as a code is read, and whenever the
 * page is hidden, so its light never stays on behind another app.
 *
 * handlers.status(key) is told "camera-looking", "camera-read", "camera-denied" or
 * "camera-unavailable" (each page words them in its own language); handlers.shown(boolean)
 * when the viewfinder opens or closes; handlers.read(text) with the decoded text.
 */
(() => {
  "use strict";

  const DECODE_EVERY_MS = 150;
  const DECODE_WIDTH = 640; // frames are scaled down to this before decoding, to spare the phone

  function attach(video, handlers) {
    const camera = { stream: null, timer: null, canvas: null, context: null };

    async function start() {
      const usable = navigator.mediaDevices && navigator.mediaDevices.getUserMedia && typeof window.jsQR === "function";
      if (!usable) {
        handlers.status("camera-unavailable"); // getUserMedia exists only on HTTPS (and localhost)
        return;
      }
      try {
        camera.stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: { ideal: "environment" } },
          audio: false,
        });
      } catch (error) {
        handlers.status(error && error.name === "NotAllowedError" ? "camera-denied" : "camera-unavailable");
        return;
      }
      video.srcObject = camera.stream;
      handlers.shown(true);
      handlers.status("camera-looking");
      try {
        await video.play();
      } catch (error) {
        // play() is refused only without a user gesture; frames are still read once they arrive.
      }
      camera.timer = setTimeout(decodeFrame, DECODE_EVERY_MS);
    }

    function stop() {
      clearTimeout(camera.timer);
      camera.timer = null;
      if (camera.stream) {
        for (const track of camera.stream.getTracks()) {
          track.stop();
        }
      }
      camera.stream = null;
      video.srcObject = null;
      handlers.shown(false);
    }

    function framePixels() {
      const scale = Math.min(1, DECODE_WIDTH / video.videoWidth);
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      if (!camera.canvas) {
        camera.canvas = document.createElement("canvas");
        camera.context = camera.canvas.getContext("2d", { willReadFrequently: true });
      }
      camera.canvas.width = width;
      camera.canvas.height = height;
      camera.context.drawImage(video, 0, 0, width, height);
      return camera.context.getImageData(0, 0, width, height);
    }

    function decodeFrame() {
      camera.timer = null;
      if (!camera.stream) {
        return;
      }
      if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
        const pixels = framePixels();
        const found = window.jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: "dontInvert" });
        if (found && found.data) {
          stop();
          handlers.status("camera-read");
          handlers.read(found.data.trim());
          return;
        }
      }
      camera.timer = setTimeout(decodeFrame, DECODE_EVERY_MS);
    }

    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") {
        stop();
      }
    });
    return { start, stop, running: () => camera.stream !== null };
  }

  window.QrCamera = { attach };
})();
