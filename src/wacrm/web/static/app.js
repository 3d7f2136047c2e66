/* iDesign CRM: the little JavaScript of ours (no inline scripts anywhere: CSP script-src 'self'). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The browser's time zone goes to the server in a cookie (times are rendered in it unless the
  // user chose a zone). When the page was rendered in another zone, render it again, once.
  (function keepTimeZone() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    if (!zone) { return; }
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "wacrm_tz=" + encodeURIComponent(zone) + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
    var body = document.body;
    var rendered = body ? body.getAttribute("data-tz") : null;
    if (!body || body.getAttribute("data-tz-chosen") === "true" || !rendered || rendered === zone) { return; }
    var key = "wacrm-tz-reloaded";
    try {
      if (sessionStorage.getItem(key) === zone) { return; }
      sessionStorage.setItem(key, zone);
    } catch (e) { return; }
    if (document.readyState !== "loading" || body) { location.reload(); }
  })();

  // The installable app: a service worker that caches the static files only.
  if ("serviceWorker" in navigator && (location.protocol === "https:" || location.hostname === "127.0.0.1" || location.hostname === "localhost")) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* optional */ });
    });
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (evt) {
    evt.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A button with data-toggle="ID" opens and closes #ID (class "open"; phones collapse the header
  // menu and the chat's conversation bar behind such buttons). What is open stays open when htmx
  // renders the element again (the conversation bar after a live event), until the next page.
  var opened = {};
  function setOpen(button, open) {
    var target = document.getElementById(button.getAttribute("data-toggle"));
    if (!target) { return; }
    target.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    opened[target.id] = open;
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element ? evt.target.closest("[data-toggle]") : null;
    if (!button) { return; }
    evt.preventDefault();
    setOpen(button, button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("htmx:load", function (evt) {
    var root = evt.detail && evt.detail.elt;
    if (!(root instanceof Element)) { return; }
    var buttons = root.matches("[data-toggle]") ? [root] : [];
    buttons = buttons.concat(Array.prototype.slice.call(root.querySelectorAll("[data-toggle]")));
    buttons.forEach(function (button) {
      if (opened[button.getAttribute("data-toggle")]) { setOpen(button, true); }
    });
  });
  // Escape closes an open menu (the keyboard help lists it with the other panels).
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") { return; }
    var open = document.querySelector('[data-toggle][aria-expanded="true"]');
    if (open && open.getAttribute("data-toggle") === "site-menu") { setOpen(open, false); open.focus(); }
  });

  // A select with data-autosubmit submits its form when changed (the button stays for no-JS).
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit();
    }
  });

  // Live events (SSE through the htmx extension): turn each into refreshes of what it concerns.
  function fire(name, detail) {
    if (window.htmx) { htmx.trigger(document.body, name, detail || {}); }
  }
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    evt.preventDefault(); // nothing is swapped from the stream itself: it only carries ids
    var event = evt.detail;
    var data = {};
    try { data = JSON.parse(event.data || "{}"); } catch (e) { data = {}; }
    var kind = event.type;
    if (kind === "signed_out") { // signed out elsewhere: the page reloads into the sign-in page
      window.location.reload();
      return;
    }
    var thread = document.getElementById("thread-recent");
    var chatId = thread ? Number(thread.getAttribute("data-customer-id")) : null;
    var everything = kind === "ready" || kind === "refresh";
    fire("live-inbox");
    if (thread && (everything || data.customer_id === chatId)) {
      fire("live-chat");
      fire("live-customer");
    }
  });

  // Merge a fresh rendering of the newest messages into the thread: keep unchanged bubbles
  // (a playing video keeps playing), replace changed ones, add new ones, no jumps.
  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 80; }
  function scrollToBottom(box) { box.scrollTop = box.scrollHeight; }

  function mergeThread(container, html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var box = document.getElementById("thread");
    var stick = box && nearBottom(box);
    var prev = null;
    var seen = {};
    Array.prototype.forEach.call(tpl.content.children, function (node) {
      if (!node.id) { return; }
      seen[node.id] = true;
      var old = document.getElementById(node.id);
      var fresh = document.importNode(node, true);
      if (old) {
        if (old.getAttribute("data-v") !== node.getAttribute("data-v")) {
          old.replaceWith(fresh);
          htmx.process(fresh);
          old = fresh;
        }
        prev = old;
      } else {
        if (prev) { prev.after(fresh); } else { container.prepend(fresh); }
        htmx.process(fresh);
        prev = fresh;
      }
    });
    Array.prototype.slice.call(container.children).forEach(function (node) {
      if (node.id && !seen[node.id]) { node.remove(); }
    });
    if (box && stick) { scrollToBottom(box); }
  }

  // Reading a chat is an explicit POST sent while the chat is visible and focused (a GET never
  // changes anything: any site can make the browser follow a link). The server ignores it when
  // nothing is unread.
  var readPending = false;
  function markReadIfSeen() {
    var thread = document.getElementById("thread-recent");
    if (!thread || !readPending || document.visibilityState !== "visible" || !document.hasFocus()) {
      return;
    }
    readPending = false;
    fetch("/chat/" + thread.getAttribute("data-customer-id") + "/read", {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRF-Token": csrfToken()}
    }).catch(function () { readPending = true; });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var thread = document.getElementById("thread-recent");
    readPending = !!thread && Number(thread.getAttribute("data-unread") || "0") > 0;
    markReadIfSeen();
  });
  document.addEventListener("visibilitychange", markReadIfSeen);
  window.addEventListener("focus", markReadIfSeen);

  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.id === "thread-recent" && evt.detail.successful && evt.detail.xhr.status === 200) {
      mergeThread(elt, evt.detail.xhr.responseText);
      readPending = true; // a new message may have arrived while the chat is open
      markReadIfSeen();
    }
  });

  // Server errors of htmx requests are shown, never dropped (htmx does not swap 4xx/5xx by
  // itself): a form re-rendered with its error (header X-Swap-Error) is swapped in like a
  // success; any other error is put next to the field it names, else at the top of the form.
  function clearErrors(form) {
    form.querySelectorAll(".form-error").forEach(function (old) { old.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (f) { f.removeAttribute("aria-invalid"); });
  }
  function bodyText(key) {  // a sentence the page gave in the viewer's language (base.html)
    return document.body.getAttribute("data-text-" + key) || "";
  }
  function showError(elt, html, fallback) {
    if (!(elt instanceof Element)) { return; }
    var tpl = document.createElement("template");
    tpl.innerHTML = html || "";
    var node = tpl.content.querySelector("[data-server-error]");
    var box = document.createElement("p");
    box.className = "error form-error";
    box.setAttribute("role", "alert");
    var said = node ? node.textContent.trim() : "";
    if (!said && html) {  // a JSON answer (e.g. 413 from the body-size limit): its detail
      try { var data = JSON.parse(html); said = typeof data.detail === "string" ? data.detail : ""; } catch (e) { said = ""; }
    }
    box.textContent = said || fallback;
    var form = elt.closest("form");
    if (!form) { elt.insertAdjacentElement("afterend", box); return; }
    clearErrors(form);
    var name = node ? node.getAttribute("data-field") : null;
    var field = name ? form.querySelector('[name="' + CSS.escape(name) + '"]') : null;
    if (field) {
      field.setAttribute("aria-invalid", "true");
      (field.closest(".row, .line, label") || field).insertAdjacentElement("afterend", box);
    } else {
      form.prepend(box);
    }
  }
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (xhr.status < 400) { return; }
    if (xhr.getResponseHeader("X-Swap-Error") === "true") {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
      return;
    }
    evt.detail.shouldSwap = false;
    evt.detail.isError = false; // shown here: no htmx:responseError logged to the console
    showError(evt.detail.requestConfig ? evt.detail.requestConfig.elt : evt.detail.elt,
      xhr.responseText, bodyText("refused").replace("{status}", String(xhr.status)));
  });
  document.addEventListener("htmx:sendError", function (evt) {
    showError(evt.detail.elt, "", bodyText("unreachable"));
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt instanceof Element ? evt.detail.elt.closest("form") : null;
    var ok = evt.detail.successful && evt.detail.xhr && evt.detail.xhr.status < 400;
    if (form && ok && form.isConnected) { clearErrors(form); }
  });

  // Older pages are inserted above: keep what the reader sees where it is; drop repeated days.
  var olderOffset = null;
  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.classList.contains("older")) {
      var box = document.getElementById("thread");
      olderOffset = box ? box.scrollHeight - box.scrollTop : null;
    }
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    var box = document.getElementById("thread");
    if (olderOffset !== null && box) {
      var days = {};
      box.querySelectorAll(".day[data-day]").forEach(function (sep) {
        var d = sep.getAttribute("data-day");
        if (days[d]) { sep.remove(); } else { days[d] = true; }
      });
      box.scrollTop = box.scrollHeight - olderOffset;
      olderOffset = null;
    }
    if (evt.detail.elt && evt.detail.elt.id === "composer") { setupComposer(); }
  });

  // Composer: Enter sends, Shift+Enter makes a new line; reply-to chosen from a bubble.
  document.addEventListener("keydown", function (evt) {
    var el = evt.target;
    if (el instanceof HTMLTextAreaElement && el.hasAttribute("data-enter-sends") &&
        evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
      evt.preventDefault();
      if (el.value.trim() !== "" && el.form) { el.form.requestSubmit(); }
    }
  });

  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element ? evt.target.closest("[data-reply-to]") : null;
    if (button) {
      var field = document.getElementById("reply-to");
      var label = document.getElementById("replying");
      if (field && label) {
        field.value = button.getAttribute("data-reply-to");
        label.querySelector("span").textContent = button.getAttribute("data-reply-preview") || "";
        label.hidden = false;
        var text = document.getElementById("composer-text");
        if (text) { text.focus(); }
      }
      return;
    }
    var cancel = evt.target instanceof Element ? evt.target.closest("[data-cancel-reply]") : null;
    if (cancel) {
      var f = document.getElementById("reply-to");
      var l = document.getElementById("replying");
      if (f && l) { f.value = ""; l.hidden = true; }
    }
  });

  // The template chooser shows the chosen template's text and parameter fields (named from the
  // text); the other templates' fields are disabled, so only the chosen one's are sent.
  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el instanceof HTMLSelectElement && el.id === "template-name") {
      document.querySelectorAll("fieldset[data-template]").forEach(function (group) {
        var chosen = group.getAttribute("data-template") === el.value;
        group.hidden = !chosen;
        group.querySelectorAll("input").forEach(function (input) {
          input.disabled = !chosen;
          input.required = chosen;
        });
      });
    }
  });

  function setupComposer() {
    var select = document.getElementById("template-name");
    if (select) { select.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("thread");
    if (box) { scrollToBottom(box); }
    setupComposer();
  });
})();
