"""What a page says while it reads a QR code with the camera (``static/js/qr-camera.js``),
keyed by the names the script asks for; the scanner and the home page both render these."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

CAMERA_TEXTS = {
    "camera-start": _l("Scan with the camera"),
    "camera-stop": _l("Stop the camera"),
    "camera-looking": _l("Hold the QR code in front of the camera."),
    "camera-read": _l("QR code read."),
    "camera-denied": _l("The camera is not allowed. Allow it in the browser's settings, or type the code."),
    "camera-unavailable": _l(
        "This browser or connection cannot use the camera (it needs HTTPS). Type the code instead."
    ),
}
