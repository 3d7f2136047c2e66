/* New-message alerts: unread count in the tab title and on the favicon, a short sound and desktop
   notifications (the user's preferences on <body data-alert-*>). No permission is asked on load:
   only the "Allow notifications" button asks. */
(function () {
  "use strict";
  var body = document.body;
  var alertsUrl = body.getAttribute("data-alerts-url");
  var baseTitle = document.title.replace(/^\(\d+\+?\) /, "");
  var favicon = document.getElementById("favicon");
  var faviconHref = favicon ? favicon.getAttribute("href") : null;
  var iconImage = null;
  var audio = null;

  function wants(name) { return body.getAttribute("data-alert-" + name) === "true"; }

  // --- tab title and favicon badge -----------------------------------------------------------
  function showUnread(count) {
    var label = count > 99 ? "99+" : String(count);
    document.title = (count > 0 ? "(" + label + ") " : "") + baseTitle;
    body.setAttribute("data-unread", String(count));
    drawBadge(count > 9 ? "9+" : String(count), count > 0);
  }

  function drawBadge(text, show) {
    if (!favicon || !faviconHref) { return; }
    if (!show) { favicon.setAttribute("href", faviconHref); return; }
    function paint() {
      var canvas = document.createElement("canvas");
      canvas.width = 64; canvas.height = 64;
      var ctx = canvas.getContext("2d");
      if (!ctx) { return; }
      ctx.drawImage(iconImage, 0, 0, 64, 64);
      ctx.fillStyle = "#d93025";
      ctx.beginPath(); ctx.arc(44, 20, 20, 0, 2 * Math.PI); ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold " + (text.length > 1 ? 22 : 28) + "px sans-serif";
      ctx.textAlign = "center"; ctx.textBaseline = "middle";
      ctx.fillText(text, 44, 21);
      favicon.setAttribute("href", canvas.toDataURL("image/png"));
    }
    if (iconImage && iconImage.complete) { paint(); return; }
    iconImage = new Image();
    iconImage.onload = paint;
    iconImage.src = faviconHref;
  }

  // --- sound (Web Audio; browsers let it play only after the user has interacted with the page) --
  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    if (!audio) { audio = new Ctx(); }
    if (audio.state === "suspended") { audio.resume(); }
  }
  ["pointerdown", "keydown"].forEach(function (name) {
    document.addEventListener(name, unlockAudio, { capture: true, passive: true });
  });

  function chime() {
    if (!audio || audio.state !== "running") { return false; } // autoplay rules: stay silent
    var now = audio.currentTime;
    [880, 1320].forEach(function (freq, i) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine"; osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.25);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(now + i * 0.12); osc.stop(now + i * 0.12 + 0.3);
    });
    body.setAttribute("data-last-chime", String(Date.now()));
    return true;
  }

  // --- desktop notifications -------------------------------------------------------------------
  var canNotify = "Notification" in window;

  function notify(message) {
    if (!canNotify || Notification.permission !== "granted") { return; }
    var note = new Notification(message.title, {
      body: message.text, tag: "wacrm-chat-" + message.customer_id, icon: "/static/icons/icon-192.png"
    });
    note.onclick = function () { window.focus(); window.location.href = message.url; note.close(); };
  }

  function showPermissionState() {
    var state = document.getElementById("notify-state");
    var ask = document.getElementById("notify-ask");
    if (!state) { return; }
    var key = !canNotify ? "unsupported" : Notification.permission;
    state.textContent = state.getAttribute("data-text-" + key) || "";
    if (ask) { ask.hidden = !canNotify || Notification.permission !== "default"; }
  }

  document.addEventListener("click", function (evt) {
    var target = evt.target instanceof Element ? evt.target : null;
    if (target && target.closest("#notify-ask") && canNotify) {
      Notification.requestPermission().then(showPermissionState);
    }
    if (target && target.closest("#sound-test")) { unlockAudio(); setTimeout(chime, 50); }
  });

  // --- which messages alert --------------------------------------------------------------------
  function openChatId() {
    var thread = document.getElementById("thread-recent");
    return thread ? Number(thread.getAttribute("data-customer-id")) : null;
  }

  function inFront(customerId) {
    return document.visibilityState === "visible" && document.hasFocus() &&
      openChatId() === customerId;
  }

  function firstTime(messageId) {
    // Several open tabs share one alert per message.
    var key = "wacrm-alerted-" + messageId;
    try {
      if (localStorage.getItem(key)) { return false; }
      localStorage.setItem(key, String(Date.now()));
    } catch (e) { /* private mode: alert anyway */ }
    return true;
  }

  var pending = null;
  function refresh(ids) {
    if (!alertsUrl) { return; }
    var url = alertsUrl;
    if (ids) { url += "&customer_id=" + ids.customer_id + "&message_id=" + ids.message_id; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        showUnread(state.unread);
        var m = state.message;
        if (m && !inFront(m.customer_id) && firstTime(m.id)) {
          if (wants("sound")) { chime(); }
          if (wants("desktop")) { notify(m); }
        }
      })
      .catch(function () { /* offline for a moment: the next event catches up */ });
  }

  function onEvent(kind, data) {
    if (kind === "message" && data && data.message_id && data.customer_id) {
      refresh({ customer_id: data.customer_id, message_id: data.message_id });
    } else if (kind === "message" || kind === "customer" || kind === "ready" || kind === "refresh") {
      clearTimeout(pending);
      pending = setTimeout(function () { refresh(null); }, 200);
    }
  }

  // Pages with a live stream (inbox, chat) share it; other pages open one of their own.
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var data = {};
    try { data = JSON.parse(evt.detail.data || "{}"); } catch (e) { data = {}; }
    onEvent(evt.detail.type, data);
  });

  function ownStream() {
    if (document.getElementById("live") || !alertsUrl || !window.EventSource) { return; }
    var agent = /agent_id=(\d+)/.exec(alertsUrl);
    if (!agent) { return; }
    var source = new EventSource("/api/v1/events?agent_id=" + agent[1]);
    ["message", "customer", "ready", "refresh"].forEach(function (kind) {
      source.addEventListener(kind, function (evt) {
        var data = {};
        try { data = JSON.parse(evt.data || "{}"); } catch (e) { data = {}; }
        onEvent(kind, data);
      });
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(null); }
  });

  showPermissionState();
  refresh(null);
  ownStream();
})();
