// Một Cửa portal: small behaviours shared by every page (no inline scripts: CSP script-src 'self').
// - [data-hotkey="n"]: pressing N (outside a text field) clicks it; Alt+N works everywhere.
// - select[data-autosubmit]: choosing submits its form.
// - form[data-ctrl-enter]: Ctrl+Enter submits it with its main (op=submit) button.
// - [data-autorefresh="s"]: reload after s seconds unless the officer is typing.
// - [data-clock]: the time; [data-print]: print; [data-return-to][data-return-after]: go back after a while.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey && event.key !== "Enter" || event.metaKey) return;
    if (event.ctrlKey && event.key === "Enter") {
      var form = event.target && event.target.closest ? event.target.closest("form[data-ctrl-enter]") : null;
      form = form || document.querySelector("form[data-ctrl-enter]");
      if (form) {
        event.preventDefault();
        var main = form.querySelector('button[name="op"][value="submit"]') || form.querySelector("button[type=submit]");
        if (main) main.click(); else form.requestSubmit();
      }
      return;
    }
    var key = (event.key || "").toLowerCase();
    if (typing(event.target) && !event.altKey) return;
    var el = document.querySelector('[data-hotkey="' + (key === "esc" ? "escape" : key) + '"]');
    if (!el) return;
    event.preventDefault();
    el.click();
  });

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.value && select.form) select.form.requestSubmit();
    });
  });

  var refresh = document.querySelector("[data-autorefresh]");
  if (refresh) {
    var seconds = parseInt(refresh.getAttribute("data-autorefresh"), 10) || 15;
    var lastInput = 0;
    document.addEventListener("input", function () { lastInput = Date.now(); });
    setInterval(function () {
      if (typing(document.activeElement) && document.activeElement.value) return;
      if (Date.now() - lastInput < seconds * 1000) return;
      if (document.querySelector("details[open].action")) return;
      window.location.reload();
    }, seconds * 1000);
  }

  function tick() {
    var now = new Date();
    var text = now.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" }) + " · " +
      now.toLocaleDateString("vi-VN");
    document.querySelectorAll("[data-clock]").forEach(function (el) { el.textContent = text; });
  }
  if (document.querySelector("[data-clock]")) { tick(); setInterval(tick, 15000); }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var back = document.querySelector("[data-return-to]");
  if (back) {
    var after = parseInt(back.getAttribute("data-return-after"), 10) || 30;
    setTimeout(function () { window.location.assign(back.getAttribute("data-return-to")); }, after * 1000);
  }
})();
