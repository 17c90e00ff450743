// Draws the recent-runs chart from the JSON the server embedded in the page.
(function () {
  var el = document.getElementById("runs-data");
  var target = document.getElementById("runs-chart");
  if (!el || !target || typeof uPlot === "undefined") { return; }
  var runs = JSON.parse(el.textContent);
  if (!runs.t.length) { target.textContent = "No runs recorded yet."; return; }
  var opts = {
    width: Math.min(900, Math.max(320, target.clientWidth || 900)), height: 260,
    series: [
      {},
      { label: "records", stroke: "#2a6f97", width: 2, scale: "n" },
      { label: "requests", stroke: "#8d6a9f", width: 2, scale: "n" },
      { label: "duration (s)", stroke: "#c9184a", width: 2, scale: "s" }
    ],
    axes: [{}, { scale: "n", label: "records / requests" },
           { scale: "s", side: 1, label: "seconds", grid: { show: false } }],
    scales: { x: { time: true } }
  };
  new uPlot(opts, [runs.t, runs.records, runs.requests, runs.duration], target);
})();
