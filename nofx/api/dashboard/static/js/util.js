// Small DOM and formatting helpers. Text always goes in through textContent (never innerHTML), so
// names, symbols and reasons from the server cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// ---- up/down colours: red up, green down by default (China and Hong Kong convention); switchable ----
const COLORS = "nofx.colors";
export const colorMode = () => localStorage.getItem(COLORS) || "cn";
export function setColorMode(mode) {
  localStorage.setItem(COLORS, mode);
  applyColorMode();
}
export function applyColorMode() {
  document.documentElement.dataset.colors = colorMode();
}
export const upColor = () => (colorMode() === "cn" ? "#d9363e" : "#17a34a");
export const downColor = () => (colorMode() === "cn" ? "#17a34a" : "#d9363e");

// ---- money: the market's currency and conventions (CNY for SSE/SZSE/BSE symbols, HKD for HKEX) ------
export const currencyOf = (symbols) => ((symbols || []).some((s) => String(s).endsWith(".HK")) ? "HKD" : "CNY");
const fmts = new Map();
function nf(currency, digits) {
  const key = currency + digits;
  if (!fmts.has(key)) {
    fmts.set(key, currency
      ? new Intl.NumberFormat(currency === "HKD" ? "zh-HK" : "zh-CN",
                              { style: "currency", currency, minimumFractionDigits: digits, maximumFractionDigits: digits })
      : new Intl.NumberFormat("zh-CN", { minimumFractionDigits: 0, maximumFractionDigits: digits }));
  }
  return fmts.get(key);
}
// Amounts arrive as decimal strings; Intl formats a string exactly (no float round trip).
export function money(v, currency = "CNY") {
  if (v === null || v === undefined || v === "") return "—";
  return nf(currency, 2).format(typeof v === "string" ? v : String(v));
}
export function price(v) {
  if (v === null || v === undefined || v === "") return "—";
  return nf(null, 4).format(String(v));
}
export function num(v) {
  if (v === null || v === undefined) return "—";
  return nf(null, 0).format(v);
}
export function pct(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return (v > 0 ? "+" : "") + v.toFixed(digits) + "%";
}
// A class for a signed number: "up" / "down" (the stylesheet colours them per the convention).
export const tone = (v) => (v > 0 ? "up" : v < 0 ? "down" : "flat");
export function signed(el, value, text) {
  el.textContent = text;
  el.classList.remove("up", "down", "flat");
  el.classList.add(tone(value));
  return el;
}

// A server record's own time (UTC, such as a backtest's creation) in the browser's time zone.
export const local = (ts) => (ts ? new Date(ts).toLocaleString() : "—");
export const day = (ts) => (ts ? String(ts).slice(0, 10) : "—");
// A market timestamp as the exchange's local time; daily bars (midnight) as the date alone.
export function when(ts) {
  if (!ts) return "—";
  const t = String(ts).slice(0, 19).replace("T", " ");
  return t.endsWith(" 00:00:00") ? t.slice(0, 10) : t;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  const el = h("div", { class: `msg ${kind}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

// Calls fn at most once per `ms` (trailing call kept), for refreshing tables on bursts of events.
export function throttle(fn, ms) {
  let last = 0, pending = null;
  return (...args) => {
    const wait = last + ms - Date.now();
    if (wait <= 0) { last = Date.now(); fn(...args); return; }
    clearTimeout(pending);
    pending = setTimeout(() => { last = Date.now(); fn(...args); }, wait);
  };
}

export function table(columns, rows, { empty = "Nothing yet.", rowAttrs } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.cls || null }, c.label))));
  const body = h("tbody");
  if (!rows.length) body.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, empty)));
  for (const r of rows) {
    const tr = h("tr", rowAttrs ? rowAttrs(r) : {});
    for (const c of columns) {
      const v = c.render(r);
      tr.append(h("td", { class: c.cls || null }, v));
    }
    body.append(tr);
  }
  return h("div", { class: "scroll" }, h("table", {}, head, body));
}

// Equity statistics from a list of {ts, equity} (equity as decimal strings).
export function equityStats(points, initial) {
  let peak = initial, dd = 0;
  for (const p of points) {
    const e = Number(p.equity);
    if (e > peak) peak = e;
    if (peak > 0) dd = Math.min(dd, e / peak - 1);
  }
  const last = points.length ? Number(points[points.length - 1].equity) : initial;
  return { last, peak, maxDrawdown: dd * 100, drawdown: peak > 0 ? (last / peak - 1) * 100 : 0,
           ret: initial ? (last / initial - 1) * 100 : 0 };
}

// Today's PnL: last equity minus the last equity of the previous trading day (or the initial cash).
export function todayPnl(points, initial) {
  if (!points.length) return 0;
  const lastDay = day(points[points.length - 1].ts);
  let prev = initial;
  for (let k = points.length - 1; k >= 0; k--) {
    if (day(points[k].ts) !== lastDay) { prev = Number(points[k].equity); break; }
  }
  return Number(points[points.length - 1].equity) - prev;
}

// One line saying what a trader runs: its strategy and parameters, or its model for an AI trader.
export function describe(t) {
  const c = t.config || {};
  const what = t.kind === "ai" ? `AI · ${(c.trader && c.trader.model) || "model"}`
                               : `${c.strategy || t.kind} ${c.params && Object.keys(c.params).length ? JSON.stringify(c.params) : ""}`;
  return `${what.trim()} · ${(c.symbols || []).join(", ")}`;
}
