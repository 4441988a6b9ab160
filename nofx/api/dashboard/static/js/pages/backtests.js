// Backtests: pick a strategy, its parameters, symbols and dates; run it on the server (POST
// /backtests) with a live progress bar (the job's progress, polled); open the HTML report in the page.

import { api } from "../api.js";
import { h, local, money, num, pct, signed, table } from "../util.js";
import { fieldMessage } from "./traders.js";

const POLL_MS = 400;

export async function render(main, ctx) {
  return ctx.args[0] ? detail(main, ctx.args[0], ctx) : overview(main, ctx);
}

function bar(progress, status) {
  const p = Math.round((progress || 0) * 100);
  return h("div", { class: `progress ${status}`, role: "progressbar", "aria-valuenow": p, "aria-valuemin": 0, "aria-valuemax": 100 },
           h("div", { class: "fill", style: `width:${p}%` }), h("span", {}, status === "done" ? "done" : `${p}%`));
}

function paramInputs(strategy) {
  const box = h("div", { class: "grid params" });
  for (const [name, p] of Object.entries(strategy ? strategy.params : {})) {
    const type = p.type || (p.anyOf || []).map((x) => x.type).find((x) => x && x !== "null") || "string";
    const def = p.default;
    let input;
    if (type === "boolean") input = h("input", { type: "checkbox", name, checked: def === true });
    else if (p.enum || (p.anyOf || []).some((x) => x.enum)) {
      const opts = p.enum || (p.anyOf || []).find((x) => x.enum).enum;
      input = h("select", { name }, opts.map((o) => h("option", { value: o, selected: o === def }, o)));
    } else {
      input = h("input", { name, value: def === undefined || def === null ? "" : typeof def === "object" ? JSON.stringify(def) : def,
                           placeholder: def === null ? "none" : "", inputmode: type === "integer" || type === "number" ? "decimal" : null });
    }
    input.dataset.type = type;
    box.append(h("label", { title: p.description || "" }, name, input));
  }
  return box;
}

function readParams(box) {
  const out = {};
  for (const el of box.querySelectorAll("input, select")) {
    const t = el.dataset.type;
    if (el.type === "checkbox") { out[el.name] = el.checked; continue; }
    const v = el.value.trim();
    if (v === "") continue;
    if (t === "integer" || t === "number") out[el.name] = Number(v);
    else if (t === "object" || t === "array") out[el.name] = JSON.parse(v);
    else out[el.name] = v;
  }
  return out;
}

async function overview(main, { alive }) {
  const [strategies, symbols, runs] = await Promise.all([api("/strategies"), api("/symbols"), api("/backtests")]);
  if (!alive()) return;
  const tradable = symbols.filter((s) => !s.is_index);
  const first = tradable.length ? tradable[0].first.slice(0, 10) : "";
  const lastDay = tradable.length ? tradable[0].last.slice(0, 10) : "";
  const strategy = h("select", { name: "strategy" }, strategies.map((s) => h("option", { value: s.name, selected: s.name === "dual_ma" }, s.name)));
  const summary = h("p", { class: "muted small" });
  let params = h("div");
  const paramsSlot = h("div");
  const pickStrategy = () => {
    const s = strategies.find((x) => x.name === strategy.value);
    summary.textContent = s ? s.summary : "";
    params = paramInputs(s);
    paramsSlot.replaceChildren(params);
  };
  strategy.addEventListener("change", pickStrategy);
  const syms = h("input", { name: "symbols", required: true, list: "bt-symbols",
                            value: tradable.slice(0, 3).map((s) => s.symbol).join(", ") });
  const start = h("input", { name: "start", type: "date", value: first, min: first, max: lastDay });
  const end = h("input", { name: "end", type: "date", value: lastDay, min: first, max: lastDay });
  const cash = h("input", { name: "cash", value: "1000000", inputmode: "decimal" });
  const benches = symbols.filter((s) => s.is_index);
  const bench = h("select", { name: "benchmark" }, h("option", { value: "" }, "none"),
                  benches.map((s, k) => h("option", { value: s.symbol, selected: k === 0 }, s.symbol)));
  const err = h("p", { class: "error" });
  const progress = h("div", { id: "bt-progress" });
  const form = h("form", { class: "card form", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    let p;
    try { p = readParams(params); } catch { err.textContent = "a parameter is not valid JSON"; return; }
    const body = { strategy: strategy.value, params: p, symbols: syms.value.split(/[,\s]+/).filter(Boolean),
                   start: start.value || null, end: end.value || null, cash: cash.value.trim() };
    if (bench.value) body.benchmark = bench.value;
    let id;
    try { id = (await api("/backtests", { method: "POST", body })).id; } catch (e) { err.textContent = fieldMessage(e); return; }
    submit.disabled = true;
    await follow(id, progress, alive);
    submit.disabled = false;
    if (alive()) runsBox.replaceChildren(runsTable(await api("/backtests")));
  } },
  h("h2", {}, "New backtest"),
  h("div", { class: "grid" }, h("label", {}, "Strategy", strategy), h("label", { class: "wide" }, "Symbols", syms),
    h("label", {}, "Start", start), h("label", {}, "End", end), h("label", {}, "Cash", cash), h("label", {}, "Benchmark", bench)),
  summary, h("h3", {}, "Parameters"), paramsSlot,
  h("datalist", { id: "bt-symbols" }, tradable.map((s) => h("option", { value: s.symbol }))),
  h("div", { class: "bar" }, err, h("button", { type: "submit" }, "Run backtest")), progress);
  const submit = form.querySelector("button[type=submit]");
  pickStrategy();
  const runsBox = h("div", { id: "runs" }, runsTable(runs));
  main.append(h("h1", {}, "Backtests"), form, h("section", { class: "card" }, h("h2", {}, "Runs"), runsBox));
}

function runsTable(runs) {
  return table([
    { label: "Run", render: (r) => h("a", { href: `#/backtests/${r.backtest_id}` }, r.backtest_id.slice(0, 11)) },
    { label: "Created", render: (r) => local(r.created) },
    { label: "Status", render: (r) => bar(r.progress, r.status) },
    { label: "Return", cls: "num", render: (r) => (r.metrics && r.metrics.total_return !== undefined ? pct(r.metrics.total_return * 100) : "—") },
  ], runs.slice().reverse(), { empty: "No backtests yet." });
}

// Poll the job until it ends, drawing its progress; then offer its report.
async function follow(id, box, alive) {
  box.replaceChildren(h("p", {}, "Running ", h("code", {}, id)), bar(0, "queued"));
  for (;;) {
    const r = await api(`/backtests/${id}`);
    if (!alive()) return;
    box.replaceChildren(h("p", {}, "Backtest ", h("code", {}, id), " ", r.status), bar(r.progress, r.status));
    if (r.status === "done") {
      box.append(h("a", { class: "button", href: `#/backtests/${id}`, id: "open-report" }, "Open report"));
      return;
    }
    if (r.status === "failed") { box.append(h("p", { class: "error" }, r.error || "failed")); return; }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

async function detail(main, id, { alive }) {
  const r = await api(`/backtests/${id}`);
  if (!alive()) return;
  main.append(h("div", { class: "bar" }, h("h1", {}, "Backtest ", h("code", {}, id.slice(0, 11))),
                h("a", { class: "button ghost", href: "#/backtests" }, "All backtests")));
  const box = h("section", { class: "card" });
  main.append(box);
  if (r.status !== "done") {
    const progress = h("div");
    box.append(progress);
    await follow(id, progress, alive);
    if (!alive()) return;
    const again = await api(`/backtests/${id}`);
    if (again.status !== "done") return;
    box.replaceChildren();
    Object.assign(r, again);
  }
  box.append(h("h2", {}, "Metrics"), metricsView(r.metrics || {}));
  const html = await api(`/backtests/${id}/report`);
  if (!alive()) return;
  // The report is a complete HTML page; a srcdoc frame shows it without a second, token-less request.
  // Sandboxed without allow-same-origin: its scripts (plotly) run, but in an opaque origin that cannot
  // read this page's session tokens.
  const frame = h("iframe", { class: "report", title: "backtest report", id: "report-frame",
                              sandbox: "allow-scripts allow-downloads allow-popups" });
  frame.srcdoc = html;
  const blob = URL.createObjectURL(new Blob([html], { type: "text/html" }));
  main.append(h("section", { class: "card" }, h("div", { class: "bar" }, h("h2", {}, "Report"),
    h("a", { class: "button ghost", href: blob, download: `${id}.html` }, "Download HTML")), frame));
  return () => URL.revokeObjectURL(blob);
}

// The headline numbers as tiles (returns and drawdown coloured by sign), every metric in a table below.
const HEADLINE = [["total_return", "Total return", "ret"], ["annual_return", "Annual return", "ret"],
  ["benchmark_return", "Benchmark return", "ret"], ["excess_return", "Excess annual return", "ret"],
  ["sharpe", "Sharpe", "x"], ["max_drawdown", "Max drawdown", "ret"], ["annual_volatility", "Volatility", "pct"],
  ["win_rate", "Win rate", "pct"], ["n_trades", "Trades", "n"], ["fees_paid", "Fees", "money"],
  ["final_equity", "Final equity", "money"]];

function fmtMetric(v, kind) {
  if (v === null || v === undefined) return "—";
  if (typeof v !== "number") return String(v);
  if (kind === "ret") return pct(v * 100);
  if (kind === "pct") return (v * 100).toFixed(2) + "%";
  if (kind === "money") return money(String(v));
  if (kind === "n") return num(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

function metricsView(m) {
  const tiles = HEADLINE.filter(([k]) => k in m).map(([k, label, kind]) => {
    const dd = h("dd", {}, fmtMetric(m[k], kind));
    if (kind === "ret" && typeof m[k] === "number") signed(dd, m[k], fmtMetric(m[k], kind));
    return h("div", {}, h("dt", {}, label), dd);
  });
  return h("div", {}, h("dl", { class: "kpis wide metrics" }, tiles),
    h("details", {}, h("summary", {}, "All metrics"),
      table([{ label: "metric", render: (x) => x[0] }, { label: "value", cls: "num", render: (x) => fmtMetric(x[1]) }],
            Object.entries(m))));
}
