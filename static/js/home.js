/*
 * The home page's camera button: a visitor points the phone at a batch label or the QR code in
 * an elevator car, and the decoded text goes through the same lookup as a typed code.  Without
 * JavaScript or a camera the page is the code box alone.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const form = document.querySelector("form[role=search]");
  const codeInput = $("code");
  const toggle = $("camera-toggle");
  const status = $("camera-status");

  function words(key) {
    const source = document.querySelector(`#camera-texts [data-text="${key}"]`);
    return source ? source.textContent : key;
  }

  const camera = window.QrCamera.attach($("camera-video"), {
    status: (key) => {
      status.textContent = words(key);
    },
    shown: (shown) => {
      $("camera").hidden = !shown;
      toggle.setAttribute("aria-expanded", String(shown));
      toggle.textContent = words(shown ? "camera-stop" : "camera-start");
    },
    read: (code) => {
      codeInput.value = code;
      form.requestSubmit();
    },
  });

  // The decoder is a quarter of a megabyte: fetched when a visitor asks for the camera, not with
  // the page that most visitors only type into.
  function loadDecoder() {
    if (typeof window.jsQR === "function") {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = toggle.dataset.decoder;
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }

  toggle.addEventListener("click", async () => {
    if (camera.running()) {
      camera.stop();
      return;
    }
    try {
      await loadDecoder();
    } catch (error) {
      status.textContent = words("camera-unavailable");
      return;
    }
    await camera.start();
  });
  $("camera-reader").hidden = false;
})();
