/* 获取验证码 without leaving the page: post the form's mobile field with
   action=send_sms and show the answer under the field, then count down.
   Without scripts the same button submits the whole form and the page
   comes back with the same message. */
(function () {
  "use strict";
  function countdown(button, seconds) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.disabled = true;
    var left = seconds;
    button.textContent = left + "秒后重新获取";
    var timer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        button.disabled = false;
        button.textContent = label;
      } else {
        button.textContent = left + "秒后重新获取";
      }
    }, 1000);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-sms-send]");
    if (!button || !window.fetch) { return; }
    event.preventDefault();
    var form = button.form;
    var data = new FormData();
    data.append("csrf_token", form.querySelector("[name=csrf_token]").value);
    data.append("action", "send_sms");
    var field = button.getAttribute("data-mobile-field");
    if (field) {
      var input = form.querySelector("[name='" + field + "']");
      if (input) { data.append(field, input.value); }
    }
    var status = form.querySelector("[data-sms-status]");
    button.disabled = true;
    fetch(form.getAttribute("action") || window.location.pathname, {
      method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (response) { return response.json(); }).then(function (answer) {
      if (status) {
        status.textContent = answer.message || "";
        status.className = "sms-status" + (answer.ok ? "" : " field-error");
      }
      if (answer.ok) { countdown(button, 60); } else { button.disabled = false; }
    }).catch(function () {
      if (status) { status.textContent = "网络异常，请稍后重试"; status.className = "sms-status field-error"; }
      button.disabled = false;
    });
  });
})();
