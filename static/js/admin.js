// Admin pages: they work without this file; it only adds conveniences.
// - A form is sent once: a second click while the first is on its way does nothing (the server
//   also refuses to carry out the same create form twice, but a double click would lose the
//   page that shows a new API key).
// - Forms with data-confirm ask before revoking or disabling.
// - The new API key can be copied with one button.
"use strict";

(function () {
  document.querySelectorAll("form[method='post']").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var question = form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
        return;
      }
      if (form.getAttribute("data-sent") === "yes") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "yes");
      form.setAttribute("aria-busy", "true");
    });
  });

  // A page restored by the back button may still carry the mark of its sent form.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
      form.removeAttribute("aria-busy");
    });
  });

  var key = document.getElementById("new-api-key");
  var copy = document.getElementById("copy-key");
  if (key && copy) {
    copy.hidden = false;
    key.addEventListener("focus", function () {
      key.select();
    });
    copy.addEventListener("click", function () {
      key.focus();
      key.select();
      var done = function () {
        copy.textContent = copy.getAttribute("data-done");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(key.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  }
})();
