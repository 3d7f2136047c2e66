// The chat composer's team tools: the "/" list of canned responses (keyboard navigable) and the
// emoji picker (emoji-picker-element, vendored, loaded on first use; its data is served locally).
(function () {
  "use strict";
  var PICKER = "/static/vendor/emoji-picker-element/index.js";
  var DATA = "/static/vendor/emoji-picker-element-data/data.json";
  var TRIGGER = /(^|\n)\/([\w-]*)$/;
  var state = { items: [], active: -1, start: -1, seq: 0 };

  function text() { return document.getElementById("composer-text"); }
  function list() { return document.getElementById("canned-list"); }
  function customerId() {
    var thread = document.getElementById("thread-recent");
    return thread ? thread.getAttribute("data-customer-id") : null;
  }

  function close() {
    var ul = list();
    state.items = []; state.active = -1;
    state.seq++; // a lookup still on its way must not open the list again

    if (ul) { ul.hidden = true; ul.innerHTML = ""; }
    var t = text();
    if (t) { t.removeAttribute("aria-activedescendant"); t.setAttribute("aria-expanded", "false"); }
  }

  function show(items) {
    var ul = list(), t = text();
    if (!ul || !t) { return; }
    state.items = items; state.active = items.length ? 0 : -1;
    ul.innerHTML = "";
    if (!items.length) {
      var none = document.createElement("li");
      none.className = "muted"; none.textContent = ul.getAttribute("data-empty") || "";
      ul.appendChild(none);
    }
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = "canned-opt-" + i; li.setAttribute("role", "option");
      li.setAttribute("data-index", String(i));
      var name = document.createElement("strong"); name.textContent = "/" + item.shortcut;
      var body = document.createElement("span"); body.className = "muted"; body.textContent = " " + item.text;
      li.appendChild(name); li.appendChild(body);
      ul.appendChild(li);
    });
    ul.hidden = false;
    t.setAttribute("aria-expanded", "true");
    mark();
  }

  function mark() {
    var ul = list(), t = text();
    if (!ul || !t) { return; }
    Array.prototype.forEach.call(ul.querySelectorAll("[role=option]"), function (li, i) {
      li.setAttribute("aria-selected", i === state.active ? "true" : "false");
      if (i === state.active) { li.scrollIntoView({ block: "nearest" }); }
    });
    if (state.active >= 0) { t.setAttribute("aria-activedescendant", "canned-opt-" + state.active); }
  }

  function choose(i) {
    var t = text(), item = state.items[i];
    if (!t || !item) { return; }
    var caret = t.selectionStart;
    var before = t.value.slice(0, state.start), after = t.value.slice(caret);
    t.value = before + item.text + after;
    var pos = before.length + item.text.length;
    t.setSelectionRange(pos, pos);
    close();
    t.focus();
  }

  function lookup() {
    var t = text(), id = customerId();
    if (!t || !id) { return; }
    var match = TRIGGER.exec(t.value.slice(0, t.selectionStart));
    if (!match) { close(); return; }
    state.start = t.selectionStart - match[2].length - 1;
    var seq = ++state.seq;
    fetch("/chat/" + id + "/canned?q=" + encodeURIComponent(match[2]), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (seq === state.seq) { show(items); } })
      .catch(function () { close(); });
  }

  document.addEventListener("input", function (evt) {
    if (evt.target && evt.target.id === "composer-text") { lookup(); }
  });

  // capture phase: the open list takes Enter/Tab/arrows/Escape before "Enter sends" sees them
  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape" && evt.target && evt.target.id === "composer-text") {
      state.seq++; // Escape before the first answer: that answer must not open the list
    }
    if (!evt.target || evt.target.id !== "composer-text" || !list() || list().hidden) { return; }
    var n = state.items.length;
    if (evt.key === "ArrowDown" && n) { state.active = (state.active + 1) % n; mark(); }
    else if (evt.key === "ArrowUp" && n) { state.active = (state.active - 1 + n) % n; mark(); }
    else if ((evt.key === "Enter" || evt.key === "Tab") && n && state.active >= 0) { choose(state.active); }
    else if (evt.key === "Escape") { close(); }
    else { return; }
    evt.preventDefault(); evt.stopPropagation();
  }, true);

  document.addEventListener("mousedown", function (evt) {
    var li = evt.target instanceof Element ? evt.target.closest("#canned-list [role=option]") : null;
    if (li) { evt.preventDefault(); choose(Number(li.getAttribute("data-index"))); }
  });
  document.addEventListener("focusout", function (evt) {
    if (evt.target && evt.target.id === "composer-text") { setTimeout(close, 150); }
  });

  // Emoji picker: the button opens it; a chosen emoji goes in at the caret.
  function insert(t, value) {
    var start = t.selectionStart, end = t.selectionEnd;
    t.value = t.value.slice(0, start) + value + t.value.slice(end);
    t.setSelectionRange(start + value.length, start + value.length);
    t.focus();
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target instanceof Element ? evt.target.closest("#emoji-button") : null;
    if (!button) { return; }
    var pop = document.getElementById("emoji-pop");
    if (!pop) { return; }
    if (!pop.hidden) { pop.hidden = true; button.setAttribute("aria-expanded", "false"); return; }
    import(PICKER).then(function () {
      if (!pop.querySelector("emoji-picker")) {
        var picker = document.createElement("emoji-picker");
        picker.dataSource = DATA;
        picker.addEventListener("emoji-click", function (e) {
          var t = text();
          if (t && e.detail && e.detail.unicode) { insert(t, e.detail.unicode); }
          pop.hidden = true; button.setAttribute("aria-expanded", "false");
        });
        pop.appendChild(picker);
      }
      pop.hidden = false; button.setAttribute("aria-expanded", "true");
    });
  });
  document.addEventListener("keydown", function (evt) {
    var pop = document.getElementById("emoji-pop");
    if (evt.key === "Escape" && pop && !pop.hidden) {
      pop.hidden = true;
      var button = document.getElementById("emoji-button");
      if (button) { button.setAttribute("aria-expanded", "false"); }
      var t = text(); if (t) { t.focus(); }
    }
  });
})();
