/* 广东省统一身份认证平台: region selects, SMS codes, QR codes (drawn with the
   vendored qrcode-generator, static/vendor) and their polling, copy buttons.
   Pages work without it where they can (forms post normally); this adds the
   live parts. */
(function () {
  "use strict";

  function csrfOf(el) {
    var form = el.closest("form") || document.querySelector("form");
    var input = (form && form.querySelector("input[name=csrf_token]")) || document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function post(url, data) {
    var body = new URLSearchParams();
    Object.keys(data).forEach(function (k) { body.append(k, data[k]); });
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: body.toString(),
      credentials: "same-origin"
    }).then(function (r) { return r.json(); });
  }

  /* -- 证件地址: province → city → district ------------------------------ */
  function setupRegions() {
    var data = document.getElementById("divisions-data");
    if (!data) return;
    var divisions = JSON.parse(data.textContent);
    var province = document.querySelector("select[data-region=province]");
    var city = document.querySelector("select[data-region=city]");
    var district = document.querySelector("select[data-region=district]");
    if (!province || !city || !district) return;

    function fill(select, items, keep) {
      var current = keep ? select.value : "";
      select.innerHTML = "";
      var blank = document.createElement("option");
      blank.value = ""; blank.textContent = "请选择";
      select.appendChild(blank);
      items.forEach(function (item) {
        var o = document.createElement("option");
        o.value = item.name; o.textContent = item.name;
        select.appendChild(o);
      });
      select.value = items.some(function (i) { return i.name === current; }) ? current : "";
    }
    function citiesOf(p) {
      var found = divisions.provinces.filter(function (x) { return x.name === p; })[0];
      return found ? found.cities : [];
    }
    function districtsOf(p, c) {
      var found = citiesOf(p).filter(function (x) { return x.name === c; })[0];
      return found ? found.districts : [];
    }
    province.addEventListener("change", function () { fill(city, citiesOf(province.value), false); fill(district, [], false); });
    city.addEventListener("change", function () { fill(district, districtsOf(province.value, city.value), false); });
  }

  /* -- 获取验证码 ------------------------------------------------------------ */
  function setupSms() {
    document.querySelectorAll("[data-sms-send]").forEach(function (button) {
      var status = document.getElementById(button.getAttribute("data-sms-status"));
      var label = button.textContent;
      function countdown(seconds) {
        button.disabled = true;
        var left = seconds;
        var timer = setInterval(function () {
          left -= 1;
          button.textContent = left + "秒后重新获取";
          if (left <= 0) { clearInterval(timer); button.disabled = false; button.textContent = label; }
        }, 1000);
        button.textContent = left + "秒后重新获取";
      }
      button.addEventListener("click", function () {
        var data = { csrf_token: csrfOf(button), purpose: button.getAttribute("data-purpose") };
        var mobileField = button.getAttribute("data-mobile-field");
        if (mobileField) {
          var input = document.getElementById(mobileField);
          data.mobile = input ? input.value : "";
        }
        var loginField = button.getAttribute("data-login-field");
        if (loginField) {
          var login = document.getElementById(loginField);
          data.login_name = login ? login.value : "";
        }
        button.disabled = true;
        post("/sms/send", data).then(function (r) {
          if (status) {
            status.textContent = r.message || r.error || "";
            status.className = r.sent ? "field-ok" : "field-error";
          }
          if (r.sent) { countdown(r.retry_after || 60); } else { button.disabled = false; }
        }).catch(function () {
          button.disabled = false;
          if (status) { status.textContent = "网络异常，请稍后再试"; status.className = "field-error"; }
        });
      });
    });
  }

  /* -- 二维码: drawn here from the URL the page gives (not by the server: every
     login page shows one), one <path> of the dark runs of each row, 2 modules
     of quiet zone; error correction M, as scanners of WeChat expect. ---------- */
  function drawQr(image, text) {
    // The address is UTF-8 (the library's default keeps one byte per character).
    qrcode.stringToBytes = qrcode.stringToBytesFuncs["UTF-8"];
    var code = qrcode(0, "M");
    code.addData(text, "Byte");
    code.make();
    var n = code.getModuleCount(), side = n + 4, path = "";
    for (var r = 0; r < n; r += 1) {
      for (var c = 0; c < n; c += 1) {
        if (!code.isDark(r, c)) continue;
        var start = c;
        while (c + 1 < n && code.isDark(r, c + 1)) c += 1;
        var w = c - start + 1;
        path += "M" + (start + 2) + " " + (r + 2) + "h" + w + "v1h-" + w + "z";
      }
    }
    image.innerHTML = '<svg aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + side + " " + side +
      '" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="' + path + '"/></svg>';
    image.setAttribute("data-qr-text", text);
    // An image for a screen reader only once there is one to see.
    image.setAttribute("role", "img");
    image.setAttribute("aria-label", image.getAttribute("data-qr-label") || "二维码");
  }

  // False (and the reason shown) when the code cannot be drawn: the page's
  // other parts still start, and a scan is never asked of a code not shown.
  function drewQr(image, text, show) {
    try {
      drawQr(image, text);
      return true;
    } catch (e) {
      image.innerHTML = "";
      image.removeAttribute("role");
      show("二维码无法显示，请刷新页面后重试", "error");
      return false;
    }
  }

  /* -- 二维码: poll the one-time session, refresh when it expires ------------- */
  function setupQr() {
    document.querySelectorAll("[data-qr]").forEach(function (box) {
      var kind = box.getAttribute("data-kind");
      var status = box.querySelector("[data-qr-status]");
      var image = box.querySelector("[data-qr-image]");
      var refresh = box.querySelector("[data-qr-refresh]");
      var done = false;
      function show(text, cls) { if (status) { status.textContent = text; status.className = "qr-status " + (cls || ""); } }
      if (!drewQr(image, image.getAttribute("data-qr-text"), show)) return;
      function poll() {
        if (done) return;
        post("/qr/status", { csrf_token: csrfOf(box), kind: kind, s: box.getAttribute("data-sid") }).then(function (r) {
          if (r.status === "approved") {
            done = true;
            box.classList.add("qr-approved");
            show(r.message || "已确认", "ok");
            var target = box.getAttribute("data-complete-form");
            if (target) {
              var form = document.getElementById(target);
              form.querySelector("input[name=s]").value = box.getAttribute("data-sid");
              form.submit();
            }
            var field = box.getAttribute("data-result-field");
            if (field && r.applicant) { var el = document.getElementById(field); if (el) el.textContent = r.applicant; }
          } else if (r.status === "expired" || r.status === "used") {
            done = true;
            box.classList.add("qr-expired");
            show(r.message || "二维码已失效，请刷新", "error");
          } else {
            setTimeout(poll, 1500);
          }
        }).catch(function () { setTimeout(poll, 3000); });
      }
      if (refresh) {
        refresh.addEventListener("click", function () {
          post("/qr/new", { csrf_token: csrfOf(box), kind: kind, purpose: box.getAttribute("data-purpose") || "", interaction: box.getAttribute("data-interaction") || "" }).then(function (r) {
            if (!r.sid) { show(r.message || "无法刷新二维码", "error"); return; }
            // Drawn first: the page polls the session whose code it shows.
            if (!drewQr(image, r.text, show)) return;
            box.setAttribute("data-sid", r.sid);
            var link = box.querySelector("[data-qr-link]");
            if (link) link.setAttribute("href", r.url);
            box.classList.remove("qr-expired", "qr-approved");
            show("请使用微信扫描二维码", "");
            if (done) { done = false; poll(); }
          });
        });
      }
      if (!box.classList.contains("qr-approved")) setTimeout(poll, 1500);
    });
  }

  /* -- 复制 ------------------------------------------------------------------- */
  function setupCopy() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        var text = source ? (source.value || source.textContent) : "";
        if (navigator.clipboard) {
          navigator.clipboard.writeText(text).then(function () { button.textContent = "已复制"; });
        } else if (source && source.select) {
          source.select(); document.execCommand("copy"); button.textContent = "已复制";
        }
      });
    });
  }

  /* -- 「CA助手」: the local certificate client signs the challenge -------- */
  function setupCaHelper() {
    var panel = document.getElementById("ca-helper");
    if (!panel) return;
    var base = panel.getAttribute("data-ca-helper");
    var kind = panel.getAttribute("data-kind");
    var form = panel.closest("form");
    var select = document.getElementById("helper-cert");
    var pin = document.getElementById("helper-pin");
    var error = document.getElementById("helper-error");
    var response = document.getElementById("response");
    var manual = document.getElementById("manual-sign");
    var missing = document.getElementById("helper-missing");

    function notFound() {
      missing.hidden = false;
      manual.open = true;
      document.getElementById("helper-missing-ok").addEventListener("click", function () { missing.hidden = true; });
    }
    function showError(text) { error.textContent = text; error.hidden = false; }

    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, 2000);
    fetch(base + "/v1/status", { signal: controller ? controller.signal : undefined })
      .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
      .then(function (status) {
        clearTimeout(timer);
        var mine = (status.certificates || []).filter(function (c) { return c.kind === kind; });
        if (!mine.length) { notFound(); document.getElementById("helper-missing-text").textContent = "CA助手中没有可用的" + (kind === "bank" ? "网银证书" : "CA证书") + "，请插入证书后刷新本页；也可使用下方命令行方式签名。"; return; }
        mine.forEach(function (c) {
          var option = document.createElement("option");
          option.value = c.id; option.textContent = c.org_name + "（" + c.uscc + "）";
          select.appendChild(option);
        });
        panel.hidden = false;
        form.addEventListener("submit", function (event) {
          if (response.value.trim()) return; // signed on the command line and pasted
          event.preventDefault();
          error.hidden = true;
          if (!pin.value) { showError("请输入证书PIN码"); pin.focus(); return; }
          var challenge = document.getElementById("challenge").textContent.trim();
          fetch(base + "/v1/sign", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ id: select.value, pin: pin.value, challenge: challenge })
          }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
            .then(function (answer) {
              if (!answer.ok) { showError(answer.body.error || "CA助手签名失败"); pin.value = ""; return; }
              response.value = answer.body.response;
              pin.value = "";
              form.submit();
            })
            .catch(function () { showError("与CA助手的连接已断开，请确认CA助手正在运行后重试"); });
        });
      })
      .catch(function () { clearTimeout(timer); notFound(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupRegions(); setupSms(); setupQr(); setupCopy(); setupCaHelper();
  });
})();
