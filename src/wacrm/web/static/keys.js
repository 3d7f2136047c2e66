/* Keyboard shortcuts (listed in the "?" help dialog): Ctrl/Cmd+K search, Alt+Up/Down between
   conversations, Esc closes, ? shows the help. Enter/Shift+Enter live in app.js (the composer). */
(function () {
  "use strict";
  var ORDER_KEY = "wacrm-inbox-order";

  function typing(el) {
    return el instanceof HTMLElement &&
      (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function rememberOrder() {
    var ids = [];
    document.querySelectorAll("#inbox-list .conversation").forEach(function (li) {
      ids.push(li.id.replace(/^c-/, ""));
    });
    if (ids.length) {
      try { sessionStorage.setItem(ORDER_KEY, JSON.stringify(ids)); } catch (e) { /* ignore */ }
    }
  }
  document.addEventListener("DOMContentLoaded", rememberOrder);
  document.addEventListener("htmx:afterSettle", rememberOrder);

  function openChat() {
    var thread = document.getElementById("thread-recent");
    return thread ? thread.getAttribute("data-customer-id") : null;
  }

  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#inbox-list .conversation > a"));
    if (links.length) { // the inbox: move the focus along the list
      var at = links.indexOf(document.activeElement);
      var next = links[Math.min(links.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
      next.focus();
      return;
    }
    var current = openChat();
    if (!current) { return; }
    var order = [];
    try { order = JSON.parse(sessionStorage.getItem(ORDER_KEY) || "[]"); } catch (e) { order = []; }
    var index = order.indexOf(current);
    var target = index < 0 ? null : order[index + step];
    if (target) { window.location.href = "/chat/" + target; }
  }

  function help() { return document.getElementById("help"); }

  // The customer panel is a view of its own on phones (#customer-panel): closing it goes back,
  // so the phone's back button and the panel's ← do the same.
  var panelOpenedHere = false;
  window.addEventListener("hashchange", function () {
    panelOpenedHere = location.hash === "#customer-panel";
  });
  function closePanel() {
    if (panelOpenedHere) { history.back(); } else { location.hash = ""; }
  }

  function closeSomething() {
    var dialog = help();
    if (dialog && dialog.open) { dialog.close(); return true; }
    if (location.hash === "#customer-panel") { closePanel(); return true; }
    var cancel = document.querySelector("#replying:not([hidden]) [data-cancel-reply]");
    if (cancel) { cancel.click(); return true; }
    var open = document.querySelector("details[open]");
    if (open) { open.open = false; return true; }
    return false;
  }

  document.addEventListener("click", function (evt) {
    var close = evt.target instanceof Element ? evt.target.closest("[data-panel-close]") : null;
    if (close) { evt.preventDefault(); closePanel(); return; }
    var target = evt.target instanceof Element ? evt.target.closest("[data-help-open]") : null;
    var dialog = help();
    if (target && dialog && dialog.showModal) { dialog.showModal(); }
  });

  document.addEventListener("keydown", function (evt) {
    if ((evt.ctrlKey || evt.metaKey) && !evt.altKey && (evt.key === "k" || evt.key === "K")) {
      evt.preventDefault();
      var search = document.getElementById("inbox-q");
      if (search) { search.focus(); search.select(); } else { window.location.href = "/inbox#search"; }
      return;
    }
    if (evt.altKey && !evt.ctrlKey && !evt.metaKey && (evt.key === "ArrowUp" || evt.key === "ArrowDown")) {
      evt.preventDefault();
      move(evt.key === "ArrowUp" ? -1 : 1);
      return;
    }
    if (evt.key === "Escape") {
      if (closeSomething()) { evt.preventDefault(); }
      return;
    }
    if (evt.key === "?" && !typing(evt.target) && !evt.ctrlKey && !evt.metaKey && !evt.altKey) {
      var dialog = help();
      if (dialog && dialog.showModal && !dialog.open) { evt.preventDefault(); dialog.showModal(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (location.hash === "#search") {
      var search = document.getElementById("inbox-q");
      if (search) { search.focus(); }
    }
  });
})();
