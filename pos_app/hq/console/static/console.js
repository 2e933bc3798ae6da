/* Draws the dashboard's charts from its JSON data block with the bundled Chart.js. */
(function () {
  "use strict";
  var block = document.getElementById("dashboard-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var colours = { issued: "#2f7d4f", spent: "#2f4e7a", expired: "#b44d12", adjusted: "#7b61a8", liability: "#1d3557" };
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  function series(name) {
    return { label: data.names[name], data: data[name], backgroundColor: colours[name], borderColor: colours[name] };
  }
  new Chart(document.getElementById("chart-flows"), {
    type: "bar",
    data: { labels: data.labels, datasets: ["issued", "spent", "expired", "adjusted"].map(series) },
    options: { responsive: true, scales: { x: { ticks: { maxRotation: 0, autoSkip: true } } } }
  });
  var liability = series("liability");
  liability.fill = false;
  liability.tension = 0.2;
  new Chart(document.getElementById("chart-liability"), {
    type: "line",
    data: { labels: data.labels, datasets: [liability] },
    options: { responsive: true, plugins: { legend: { display: false } } }
  });
  var tiers = {};
  data.tier_history.forEach(function (row) {
    Object.keys(row).forEach(function (k) { if (k !== "day") { tiers[k] = true; } });
  });
  var palette = ["#9aa5b1", "#c99a2e", "#52606d", "#2f7d4f", "#7b61a8"];
  new Chart(document.getElementById("chart-tiers"), {
    type: "bar",
    data: {
      labels: data.tier_days,
      datasets: Object.keys(tiers).sort().map(function (tier, i) {
        return { label: tier, data: data.tier_history.map(function (row) { return row[tier] || 0; }),
                 backgroundColor: palette[i % palette.length] };
      })
    },
    options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true } } }
  });
})();
