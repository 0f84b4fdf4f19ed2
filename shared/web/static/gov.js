/* Behaviour every page shares (loaded by base.html; the Content-Security-Policy
   runs no inline script, so it lives here). Pages work without it.

   Dialogs: Tab and Shift+Tab stay inside an open modal dialog (a <dialog>
   opened with showModal(), or a page whose content is a role="dialog"
   aria-modal="true" box, like 选择单位), and focus starts inside it.

   Confirmations: a form with data-confirm="<dialog id>" asks first. Submitting
   opens the dialog; its [data-confirm-ok] button sends the form, Escape or
   [data-confirm-cancel] closes it, and focus goes back to the button that
   opened it. */
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function focusables(box) {
    return Array.prototype.filter.call(box.querySelectorAll(FOCUSABLE), function (el) {
      return el.offsetParent !== null || el === document.activeElement;
    });
  }

  function openModal() {
    var open = document.querySelector("dialog[open]");
    if (open) { return open; }
    return document.querySelector("[role=dialog][aria-modal=true]");
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab") { return; }
    var box = openModal();
    if (!box) { return; }
    var items = focusables(box);
    if (!items.length) { return; }
    var first = items[0], last = items[items.length - 1];
    var inside = box.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault(); last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault(); first.focus();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var dialog = form.dataset.confirm && document.getElementById(form.dataset.confirm);
    if (!dialog || form.dataset.confirmed === "yes" || typeof dialog.showModal !== "function") { return; }
    event.preventDefault();
    var opener = event.submitter || document.activeElement;
    dialog.showModal();
    dialog.addEventListener("close", function () {
      if (form.dataset.confirmed !== "yes" && opener) { opener.focus(); }
    }, { once: true });
  });

  document.addEventListener("click", function (event) {
    var ok = event.target.closest("[data-confirm-ok]");
    var cancel = event.target.closest("[data-confirm-cancel]");
    var dialog = (ok || cancel) && event.target.closest("dialog");
    if (!dialog) { return; }
    var form = document.querySelector("form[data-confirm='" + dialog.id + "']");
    if (ok && form) {
      form.dataset.confirmed = "yes";
      dialog.close();
      form.submit();
    } else {
      dialog.close();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // A page that is a modal dialog opens with focus in it, on its chosen option if any.
    var box = document.querySelector("[role=dialog][aria-modal=true]");
    if (!box || box.contains(document.activeElement)) { return; }
    var start = box.querySelector("input:checked") || focusables(box)[0];
    if (start) { start.focus(); }
  });
})();
