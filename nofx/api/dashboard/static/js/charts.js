// Charts with plotly.js, served by nofx from the installed plotly package (/vendor/plotly.min.js): no
// CDN, works offline. The script is loaded on first use, so pages without charts never fetch it.

import { upColor, downColor } from "./util.js";

let loading = null;
export function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/vendor/plotly.min.js";
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { loading = null; reject(new Error("could not load the chart library")); };
      document.head.append(s);
    });
  }
  return loading;
}

const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

export function layout(extra = {}) {
  return {
    margin: { l: 56, r: 12, t: 8, b: 32 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { family: "system-ui, sans-serif", size: 11, color: "#374151" }, hovermode: "x unified",
    legend: { orientation: "h", y: 1.08, x: 0 }, showlegend: true, ...extra,
  };
}

export async function draw(el, data, lay) {
  const P = await plotly();
  return P.react(el, data, lay, CONFIG);
}

export function purge(el) {
  if (window.Plotly && el) window.Plotly.purge(el);
}

// Equity (and a benchmark scaled to the same start) on top, drawdown below.
export function equityFigure(points, bench, benchName) {
  const x = points.map((p) => p.ts);
  const y = points.map((p) => Number(p.equity));
  let peak = -Infinity;
  const dd = y.map((e) => { peak = Math.max(peak, e); return peak > 0 ? (e / peak - 1) * 100 : 0; });
  const data = [
    { x, y, name: "equity", type: "scatter", mode: "lines", line: { color: "#2563eb", width: 2 }, yaxis: "y" },
    { x, y: dd, name: "drawdown %", type: "scatter", mode: "lines", fill: "tozeroy",
      line: { color: "#9ca3af", width: 1 }, fillcolor: "rgba(156,163,175,0.3)", yaxis: "y2" },
  ];
  if (bench && bench.length) {
    data.splice(1, 0, { x: bench.map((b) => b.ts), y: bench.map((b) => b.value), name: benchName || "benchmark",
                        type: "scatter", mode: "lines", line: { color: "#f59e0b", width: 1.5, dash: "dot" }, yaxis: "y" });
  }
  const lay = layout({
    yaxis: { domain: [0.32, 1], title: { text: "equity" }, tickformat: ",.0f" },
    // at least 0..-1% so a tiny drawdown does not fill the panel
    yaxis2: { domain: [0, 0.24], title: { text: "DD %" }, ticksuffix: "%", range: [Math.min(-1, ...dd) * 1.05, 0] },
    xaxis: { anchor: "y2", rangebreaks: breaks(x) },
  });
  return { data, layout: lay };
}

// Daily bars: hide weekends and the weekdays without a bar (exchange holidays), so candles sit side by
// side as on a trading terminal. Intraday bars: no breaks.
function breaks(xs) {
  if (!daily(xs)) return [];
  const have = new Set(xs.map((t) => String(t).slice(0, 10)));
  const gaps = [];
  const d = new Date(String(xs[0]).slice(0, 10) + "T00:00:00Z");
  const end = new Date(String(xs[xs.length - 1]).slice(0, 10) + "T00:00:00Z");
  for (; d <= end; d.setUTCDate(d.getUTCDate() + 1)) {
    const wd = d.getUTCDay(), iso = d.toISOString().slice(0, 10);
    if (wd !== 0 && wd !== 6 && !have.has(iso)) gaps.push(iso);
  }
  return [{ bounds: ["sat", "mon"] }, ...(gaps.length ? [{ values: gaps }] : [])];
}

// Daily bars (all stamped at midnight): hide weekends, where there is no trading.
const daily = (xs) => xs.length > 0 && xs.every((t) => String(t).slice(11, 19) === "00:00:00");

// Candlesticks and volume of one symbol, with the trader's buys/sells and the days that closed at the
// price limit.
export function candleFigure(bars, fills, symbol) {
  const ok = bars.filter((b) => b.open !== null && b.close !== null && !b.suspended);
  const x = ok.map((b) => b.ts);
  const up = upColor(), down = downColor();
  const data = [{
    type: "candlestick", name: symbol, x, open: ok.map((b) => +b.open), high: ok.map((b) => +b.high),
    low: ok.map((b) => +b.low), close: ok.map((b) => +b.close), yaxis: "y",
    increasing: { line: { color: up }, fillcolor: up }, decreasing: { line: { color: down }, fillcolor: down },
  }, {
    type: "bar", name: "volume", x, y: ok.map((b) => b.volume), yaxis: "y2", showlegend: false,
    marker: { color: ok.map((b) => (+b.close >= +b.open ? up : down)) },
  }];
  const lu = ok.filter((b) => b.limit_up !== null && +b.close >= +b.limit_up);
  const ld = ok.filter((b) => b.limit_down !== null && +b.close <= +b.limit_down);
  if (lu.length) data.push({ type: "scatter", mode: "markers+text", name: "limit up", x: lu.map((b) => b.ts),
    y: lu.map((b) => +b.high * 1.03), text: lu.map(() => "涨停"), textposition: "top center", yaxis: "y",
    textfont: { color: up, size: 10 }, marker: { symbol: "star", size: 9, color: up },
    hovertext: lu.map((b) => `closed at limit up ${b.limit_up}`), hoverinfo: "text+x" });
  if (ld.length) data.push({ type: "scatter", mode: "markers+text", name: "limit down", x: ld.map((b) => b.ts),
    y: ld.map((b) => +b.low * 0.97), text: ld.map(() => "跌停"), textposition: "bottom center", yaxis: "y",
    textfont: { color: down, size: 10 }, marker: { symbol: "star", size: 9, color: down },
    hovertext: ld.map((b) => `closed at limit down ${b.limit_down}`), hoverinfo: "text+x" });
  const buys = fills.filter((f) => f.side === "buy"), sells = fills.filter((f) => f.side === "sell");
  if (buys.length) data.push({ type: "scatter", mode: "markers", name: "buys", x: buys.map((f) => f.ts),
    y: buys.map((f) => +f.price), yaxis: "y", marker: { symbol: "triangle-up", size: 11, color: "#7c3aed",
    line: { color: "#fff", width: 1 } }, hovertext: buys.map((f) => `buy ${f.quantity} @ ${f.price}`), hoverinfo: "text+x" });
  if (sells.length) data.push({ type: "scatter", mode: "markers", name: "sells", x: sells.map((f) => f.ts),
    y: sells.map((f) => +f.price), yaxis: "y", marker: { symbol: "triangle-down", size: 11, color: "#0f172a",
    line: { color: "#fff", width: 1 } }, hovertext: sells.map((f) => `sell ${f.quantity} @ ${f.price}`), hoverinfo: "text+x" });
  const lay = layout({
    yaxis: { domain: [0.3, 1], title: { text: "price" } },
    yaxis2: { domain: [0, 0.24], title: { text: "volume" } },
    xaxis: { anchor: "y2", rangeslider: { visible: false }, rangebreaks: breaks(x) },
  });
  return { data, layout: lay };
}
