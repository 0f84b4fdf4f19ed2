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

/* 正在导入名单 (agency/import_job.html): ask the job's counts every second and
   write them into the page's polite live region; when the job has finished,
   load the page again, which then shows the result. Any replica answers. */
(function () {
  "use strict";
  var job = document.getElementById("import-job");
  if (!job || !window.fetch) { return; }
  var url = job.getAttribute("data-status-url");
  var bar = document.getElementById("job-progress");
  function set(id, value) { var el = document.getElementById(id); if (el) { el.textContent = String(value); } }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (!status) { return; }
        if (status.finished) { window.location.reload(); return; }
        set("rows-read", status.rows_read);
        set("error-rows", status.error_rows);
        if (status.rows_total) {
          bar.max = status.rows_total; bar.value = status.rows_read;
          set("rows-total", status.rows_total);
        }
        var states = ["queued", "reading", "writing"], at = states.indexOf(status.state);
        states.forEach(function (state, i) {
          var step = document.getElementById("step-" + state);
          if (!step) { return; }
          step.className = i < at ? "done" : (i === at ? "current" : "");
          if (i === at) { step.setAttribute("aria-current", "step"); } else { step.removeAttribute("aria-current"); }
        });
        var note = document.getElementById("writing-note");
        if (note) { note.hidden = status.state !== "writing"; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
