// doorcode's pages work without this script; it only makes them nicer:
// - times in <time data-local-time> are shown in the reader's own time zone;
// - a resend button that is not available yet counts down and becomes available;
// - a submitted form's button shows that it is busy, and a second submit (a double
//   click, Enter pressed twice) is ignored, so a code is not sent or checked twice.
"use strict";

(function () {
  var lang = document.documentElement.lang || undefined;

  document.querySelectorAll("time[data-local-time]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    try {
      el.textContent = when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      // An unknown locale: keep the server's UTC time.
    }
  });

  document.querySelectorAll("button[data-countdown]").forEach(function (button) {
    var seconds = parseInt(button.getAttribute("data-countdown"), 10);
    if (!(seconds > 0)) return;
    // Measured against the clock, not counted by ticks, which background tabs slow.
    var readyAt = Date.now() + seconds * 1000;
    var label = button.getAttribute("data-countdown-label");
    var timer = setInterval(tick, 1000);
    function tick() {
      var left = Math.ceil((readyAt - Date.now()) / 1000);
      if (left > 0) {
        button.textContent = label.replace("{seconds}", String(left));
        return;
      }
      clearInterval(timer);
      button.textContent = button.getAttribute("data-ready-label");
      button.removeAttribute("aria-disabled");
      button.removeAttribute("data-countdown");
    }
  });

  var busyLabel = document.body.getAttribute("data-busy-label");

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter || form.querySelector("button[type=submit], button:not([type])");
    // Already on its way; or not available yet, when the server would only answer
    // "too soon".
    if (form.hasAttribute("data-busy") || (button && button.getAttribute("aria-disabled") === "true")) {
      event.preventDefault();
      return;
    }
    // Let this one submission through, then mark the form busy. The button is not
    // `disabled`: that would leave it out of the tab order and could drop its value.
    form.setAttribute("data-busy", "");
    form.setAttribute("aria-busy", "true");
    if (button) {
      button.setAttribute("aria-disabled", "true");
      button.classList.add("busy");
      button.setAttribute("data-label", button.textContent);
      if (busyLabel) button.textContent = busyLabel;
    }
  });

  // Back to a page from the browser's cache: its forms may be used again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.removeAttribute("data-busy");
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button.busy").forEach(function (button) {
        button.classList.remove("busy");
        button.removeAttribute("aria-disabled");
        button.textContent = button.getAttribute("data-label");
      });
    });
  });
})();
