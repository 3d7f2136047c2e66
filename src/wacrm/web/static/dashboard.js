/* The dashboard's charts (Chart.js, vendored), drawn from the JSON in #dashboard-data. */
(function () {
  "use strict";
  var COLORS = { in: "#1a5fb4", out: "#0b6e4f", customers: "#8a4b08",
    status: { pending: "#b58100", confirmed: "#1a5fb4", processing: "#5e3c99",
              shipped: "#0b6e4f", delivered: "#2d7d2d", cancelled: "#a4161a" } };

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { labels: { color: "#1b1f24" } } },
      scales: { x: { ticks: { color: "#4d5661" } }, y: { beginAtZero: true, ticks: { color: "#4d5661", precision: 0 } } }
    }, config.options || {});
    return new window.Chart(canvas, config);
  }

  // Editing a date means "these dates": the period select follows (the server honours edited
  // dates too, for a form sent without this script).
  document.addEventListener("input", function (evt) {
    var el = evt.target;
    if (el instanceof HTMLInputElement && el.hasAttribute("data-custom-period") && el.form) {
      var select = el.form.querySelector("select[name=days]");
      if (select) { select.value = "custom"; }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("dashboard-data");
    if (!holder || !window.Chart) { return; }
    var data = JSON.parse(holder.getAttribute("data-report") || "{}");
    var text = data.text || {};  // the series' names in the viewer's language
    draw("chart-messages", { type: "bar", data: { labels: data.days, datasets: [
      { label: text.in, data: data.messagesIn, backgroundColor: COLORS.in },
      { label: text.out, data: data.messagesOut, backgroundColor: COLORS.out }] } });
    draw("chart-customers", { type: "line", data: { labels: data.days, datasets: [
      { label: text.newCustomers, data: data.newCustomers, borderColor: COLORS.customers,
        backgroundColor: COLORS.customers, tension: 0 }] } });
    var orders = data.orders || [];
    var currencies = {};
    orders.forEach(function (o) { currencies[o.currency] = true; });
    var several = Object.keys(currencies).length > 1;
    var labels = orders.map(function (o) { return o.statusLabel + (several ? " (" + o.currency + ")" : ""); });
    var colors = orders.map(function (o) { return COLORS.status[o.status] || "#4d5661"; });
    draw("chart-orders", { type: "bar", data: { labels: labels, datasets: [
      { label: text.orders, data: orders.map(function (o) { return o.count; }), backgroundColor: colors }] },
      options: { plugins: { legend: { display: false } } } });
    draw("chart-revenue", { type: "bar", data: { labels: labels, datasets: [
      { label: text.revenue, data: orders.map(function (o) { return o.total; }), backgroundColor: colors }] },
      options: { plugins: { legend: { display: false } } } });
    document.documentElement.setAttribute("data-charts", "drawn");
  });
})();
