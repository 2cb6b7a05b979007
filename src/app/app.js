// doorcode's pages work without this script; it only makes them nicer:
// - times in <time data-local-time> are shown in the reader's own time zone;
// - a resend button that is not available yet counts down and becomes available;
// - a submitted form's button shows that it is busy, and a second submit (a double
//   click, Enter pressed twice) is ignored, so a code is not sent or checked twice;
// - when the Turnstile widget cannot load, its place says so.
// The CSP allows no inline script, so everything is hooked up from here.
"use strict";

(function () {
  var pageLang = document.documentElement.lang || "";

  // The page's language, in the reader's regional form when the browser names one
  // (en-GB on an English page): month names follow the page, while the order of day
  // and month and the 12- or 24-hour clock follow the reader.
  function locale() {
    var page = pageLang.toLowerCase();
    var wanted = navigator.languages || [navigator.language];
    for (var i = 0; i < wanted.length; i++) {
      var tag = String(wanted[i] || "");
      var lower = tag.toLowerCase();
      if (page && (lower === page || lower.indexOf(page + "-") === 0)) return tag;
    }
    return pageLang || undefined;
  }

  // data-local-time="time": the hours and minutes a code expires at;
  // data-local-time="datetime": the day and time a device signed in.
  var formats = {
    time: { hour: "numeric", minute: "2-digit" },
    datetime: { day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit" },
  };
  var times = document.querySelectorAll("time[data-local-time]");
  if (times.length) {
    var tag = locale();
    times.forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      var format = formats[el.getAttribute("data-local-time")] || formats.datetime;
      if (isNaN(when.getTime())) return;
      try {
        el.textContent = new Intl.DateTimeFormat(tag, format).format(when);
      } catch (e) {
        // An unknown locale or no Intl: keep the server's time, which says UTC.
      }
    });
  }

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

  // Turnstile's and hCaptcha's scripts come from their own hosts, which content
  // blockers, firewalls and flaky networks stop. Then the widget never appears, and
  // the page would show a gap and, once sent, "complete the security check" with
  // nothing to complete. Say what is wrong in its place instead.
  var widget = document.querySelector("[data-captcha-widget]");
  var captchaStatus = document.querySelector("[data-captcha-failed]");
  if (widget && captchaStatus) {
    var widgetScript = document.querySelector("script[data-captcha-script]");
    var rendered = function () {
      return typeof window.turnstile !== "undefined" || typeof window.hcaptcha !== "undefined" ||
        widget.querySelector("iframe") !== null;
    };
    var captchaFailed = function () {
      if (rendered() || widget.hidden) return;
      widget.hidden = true;
      // Filled in now, into a live region that was there from the start: announced.
      captchaStatus.textContent = captchaStatus.getAttribute("data-captcha-failed");
    };
    if (widgetScript) {
      widgetScript.addEventListener("error", captchaFailed);
      // Arrived after all (a slow network): the widget takes its place back.
      widgetScript.addEventListener("load", function () {
        widget.hidden = false;
        captchaStatus.textContent = "";
      });
    }
    // The window's load waits for the async script, so by then it has run or failed
    // (its error may have come before this script was running to hear it). A network
    // that neither answers nor refuses holds the load back: give it five seconds.
    if (document.readyState === "complete") captchaFailed();
    else window.addEventListener("load", captchaFailed);
    setTimeout(captchaFailed, 5000);
  }

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

// Passkeys (WebAuthn), the one part of doorcode that needs this script: the buttons
// stay hidden without it or in a browser without WebAuthn, and the code flow is
// the same either way. Each ceremony is two calls of the JSON API: options from
// the server, the authenticator's answer back to it.
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) return;

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The server's JSON options, with their binary members as buffers.
  function decodeOptions(publicKey) {
    publicKey.challenge = fromB64url(publicKey.challenge);
    if (publicKey.user) publicKey.user.id = fromB64url(publicKey.user.id);
    ["excludeCredentials", "allowCredentials"].forEach(function (list) {
      (publicKey[list] || []).forEach(function (c) { c.id = fromB64url(c.id); });
    });
    return publicKey;
  }

  // The authenticator's answer in WebAuthn's JSON form.
  function encodeCredential(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) throw { code: json.error || "failed" };
        return json;
      }, function () { throw { code: "failed" }; });
    });
  }

  // What to tell the person, in the page's language, for a failure.
  function say(box, failure) {
    var status = box.querySelector(".passkey-status");
    var name = failure && failure.name;
    var code = failure && failure.code;
    var key = "failed";
    if (name === "NotAllowedError" || name === "AbortError") key = "cancelled";
    else if (name === "InvalidStateError") key = "exists";
    else if (code === "unknown_passkey") key = "unknown";
    else if (code === "user_not_verified") key = "unverified";
    else if (code === "rate_limited") key = "limited";
    status.textContent = box.getAttribute("data-msg-" + key) || box.getAttribute("data-msg-failed");
    status.classList.add("banner", "error");
  }

  function busy(box, button, on) {
    var status = box.querySelector(".passkey-status");
    status.classList.remove("banner", "error");
    status.textContent = on ? box.getAttribute("data-msg-busy") : "";
    if (on) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
  }

  var adding = document.querySelector("[data-passkey-add]");
  if (adding) {
    var add = adding.querySelector("#passkey-add");
    add.hidden = false;
    adding.querySelector("[data-passkey-unsupported]").hidden = true;
    add.addEventListener("click", function () {
      if (add.getAttribute("aria-disabled") === "true") return;
      busy(adding, add, true);
      post("/api/v1/passkeys/register/options").then(function (begun) {
        return navigator.credentials
          .create({ publicKey: decodeOptions(begun.options.publicKey) })
          .then(function (cred) {
            return post("/api/v1/passkeys/register", {
              ceremony_id: begun.ceremony_id,
              credential: encodeCredential(cred),
            });
          });
      }).then(function () {
        window.location.assign("/?done=passkey");
      }, function (failure) {
        busy(adding, add, false);
        say(adding, failure);
      });
    });
  }

  var signing = document.querySelector("[data-passkey-sign-in]");
  if (signing) {
    var button = signing.querySelector("#passkey-sign-in");
    var or = signing.querySelector(".or");
    button.hidden = false;
    if (or) or.hidden = false;
    var next = signing.getAttribute("data-next") || "/";
    // At most one request to the authenticator at a time: the autofill one waits
    // in the background and gives way to the button.
    var pending = null;

    var signIn = function (mediation) {
      var controller = window.AbortController ? new AbortController() : null;
      var request = { controller: controller };
      return post("/api/v1/passkeys/sign-in/options").then(function (begun) {
        var options = { publicKey: decodeOptions(begun.options.publicKey) };
        if (mediation) options.mediation = mediation;
        if (controller) options.signal = controller.signal;
        if (pending && pending.controller) pending.controller.abort();
        pending = request;
        return navigator.credentials.get(options).then(function (cred) {
          return post("/api/v1/passkeys/sign-in", {
            ceremony_id: begun.ceremony_id,
            credential: encodeCredential(cred),
          }).catch(function (failure) {
            // The person chose a passkey and the server refused it.
            failure.answered = true;
            throw failure;
          });
        });
      }).then(function () {
        window.location.assign(next);
      }, function (failure) {
        if (pending === request) pending = null;
        throw failure;
      });
    };

    button.addEventListener("click", function () {
      if (button.getAttribute("aria-disabled") === "true") return;
      busy(signing, button, true);
      signIn(null).catch(function (failure) {
        busy(signing, button, false);
        say(signing, failure);
      });
    });

    // Autofill: the browser offers passkeys in the email field's suggestions.
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        signIn("conditional").catch(function (failure) {
          // Only once the person picked a passkey is there anything to say: not
          // when the background request gave way to the button, was dismissed, or
          // could not begin.
          if (failure && failure.answered) say(signing, failure);
        });
      });
    }
  }
})();
