// The beamline console: status, the last batch runs, one view's key over a range (with the
// batch cutoff drawn) and the top keys, all read from the serving API with the page's token.
// The page holds no data itself. A token is given once in the URL fragment (#token=...), which
// is never sent to the server, and kept for the tab (sessionStorage).
"use strict";

const params = new URLSearchParams(location.search);
(function keepToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("beamline_token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
})();

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem("beamline_token");
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { headers });
  const body = await resp.json();
  if (!resp.ok) throw new Error(path + ": " + resp.status + " " + (body.error || ""));
  return body;
}

const $ = (id) => document.getElementById(id);
const text = (id, v) => { $(id).textContent = v; };
const fmtTime = (s) => (s ? s.replace("T", " ").replace("Z", " UTC") : "none");
const fmtNum = (n) => (n === undefined || n === null ? "" : Number(n).toLocaleString("en-US"));

function cell(row, value, num) {
  const td = row.insertCell();
  td.textContent = value;
  if (num) td.className = "num";
  return td;
}

let catalog, cutoff;

async function loadStatus() {
  const st = await api("/v1/status");
  cutoff = st.batch_cutoff;
  text("cutoff", fmtTime(st.batch_cutoff));
  text("watermark", fmtTime(st.freshness.speed_watermark));
  text("lag", st.freshness.lag_seconds === null ? "none" : Math.round(st.freshness.lag_seconds) + " s");
  text("published", st.published_days + (st.gap_days.length ? " (gaps: " + st.gap_days.join(", ") + ")" : ""));
  return st;
}

async function loadRuns() {
  const list = await api("/v1/runs");
  const body = $("runs").tBodies[0];
  body.textContent = "";
  for (const r of list.runs.slice(0, 5)) {
    const full = await api("/v1/runs/" + encodeURIComponent(r.run));
    const rep = full.report || {};
    const q = rep.Quality || {};
    const row = body.insertRow();
    cell(row, r.run);
    cell(row, r.status);
    cell(row, r.days.join(", "));
    cell(row, fmtNum(rep.Read), true);
    cell(row, fmtNum(rep.Processed), true);
    cell(row, q.DeadLetterRate === undefined ? "" : (100 * q.DeadLetterRate).toFixed(2) + "%", true);
    const failed = q.Failed || [];
    const td = cell(row, failed.length ? failed.join("; ") : (rep.Quality ? "passed" : ""));
    if (failed.length) td.className = "failed";
  }
}

function fillForm(st) {
  const views = catalog.views;
  for (const v of views) $("view").add(new Option(v.name, v.name));
  $("view").value = params.get("view") || views[0].name;
  const setMetrics = () => {
    const v = views.find((x) => x.name === $("view").value);
    $("metric").textContent = "";
    for (const m of v.metrics.filter((m) => m.additive)) $("metric").add(new Option(m.name, m.name));
  };
  setMetrics();
  $("view").onchange = setMetrics;
  if (params.get("metric")) $("metric").value = params.get("metric");
  // Default range: six hours each side of the cutoff (or before the watermark).
  const pivot = Date.parse(st.batch_cutoff || st.freshness.speed_watermark || new Date().toISOString());
  const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");
  $("from").value = params.get("from") || iso(Math.floor(pivot / 3600e3) * 3600e3 - 6 * 3600e3);
  $("to").value = params.get("to") || iso(Math.floor(pivot / 3600e3) * 3600e3 + 6 * 3600e3);
  $("gran").value = params.get("granularity") || "1h";
  $("key").value = params.get("key") || "";
}

let plot;

async function show() {
  const view = $("view").value, metric = $("metric").value;
  const range = "from=" + encodeURIComponent($("from").value) + "&to=" + encodeURIComponent($("to").value);
  const top = await api(`/v1/views/${view}/top?metric=${metric}&n=10&${range}`);
  const body = $("top").tBodies[0];
  body.textContent = "";
  top.top.forEach((kv, i) => {
    const row = body.insertRow();
    cell(row, i + 1, true);
    cell(row, kv.key);
    cell(row, fmtNum(kv.value), true);
  });
  if (!$("key").value && top.top.length) $("key").value = top.top[0].key;
  const key = $("key").value;
  const rows = await api(`/v1/views/${view}?key=${encodeURIComponent(key)}&granularity=${$("gran").value}&${range}`);
  const xs = rows.rows.map((r) => Date.parse(r.window_start) / 1000);
  const ys = rows.rows.map((r) => r.metrics[metric]);
  const chart = $("chart");
  chart.dataset.points = "0";
  chart.dataset.drawn = "";
  chart.dataset.total = String(rows.totals[metric]);
  if (plot) plot.destroy();
  const cut = rows.batch_cutoff ? Date.parse(rows.batch_cutoff) / 1000 : null;
  plot = new uPlot({
    title: `${view} ${key}: ${metric} per ${$("gran").value}`,
    width: Math.min(1100, window.innerWidth - 60), height: 320,
    series: [{}, { label: metric, stroke: "#1f77b4", fill: "rgba(31,119,180,.1)", points: { show: true } }],
    scales: { x: { time: true } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"), // the API's times are UTC
    hooks: {
      draw: [(u) => {
        if (cut !== null) {
          const x = u.valToPos(cut, "x", true);
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#d62728";
          ctx.lineWidth = 3;
          ctx.setLineDash([8, 4]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
          chart.dataset.cutoffX = String(Math.round(x));
        }
        chart.dataset.points = String(xs.length);
        chart.dataset.drawn = "yes";
      }],
    },
  }, [xs, ys], chart);
}

async function main() {
  try {
    catalog = await api("/v1/views");
    const st = await loadStatus();
    fillForm(st);
    await loadRuns();
    await show();
  } catch (e) {
    text("error", String(e));
  }
  $("form").onsubmit = (ev) => {
    ev.preventDefault();
    show().catch((e) => text("error", String(e)));
  };
}

main();
