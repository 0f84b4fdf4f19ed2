/* 失业保险稳岗返还 (agency console): a year <select> that reloads its page when
   changed. The Content-Security-Policy runs no inline handlers, so the
   behaviour lives here; without scripts the form has its own button. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target.closest("[data-submit-on-change]");
    if (select && select.form) { select.form.submit(); }
  });
})();
