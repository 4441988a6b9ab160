// Traders overview: each trader's state, equity, return, drawdown and today's PnL, live over the
// WebSocket's equity channel; start/stop buttons; a form to create a trader.

import { api } from "../api.js";
import * as live from "../live.js";
import { currencyOf, describe, equityStats, h, money, pct, signed, toast, todayPnl } from "../util.js";

function strategyOptions(strategies, selected) {
  return strategies.map((s) => h("option", { value: s.name, selected: s.name === selected }, s.name));
}

export async function render(main, { alive }) {
  const [traders, strategies, symbols] = await Promise.all([
    api("/traders"), api("/strategies"), api("/symbols")]);
  if (!alive()) return;
  const state = new Map(); // trader_id -> {trader, points, initial, cells}
  const list = h("div", { class: "cards" });
  main.append(h("div", { class: "bar" }, h("h1", {}, "Traders"),
                h("button", { type: "button", onclick: () => form.hidden = !form.hidden }, "New trader")));
  const form = createForm(strategies, symbols);
  form.hidden = traders.length > 0;
  main.append(form, list);
  if (!traders.length) list.append(h("p", { class: "muted" }, "No traders yet: create one above."));

  for (const t of traders) {
    const cells = {
      state: h("span", { class: `state ${t.state}` }, t.state),
      equity: h("span", { class: "big" }, "—"), ret: h("span", {}, "—"), dd: h("span", {}, "—"),
      today: h("span", {}, "—"), asof: h("span", { class: "muted small asof" }, ""),
    };
    const cur = currencyOf(t.config.symbols);
    const button = h("button", { type: "button", class: t.desired === "running" ? "secondary" : "",
      onclick: async () => {
        button.disabled = true;
        try {
          const now = await api(`/traders/${t.trader_id}/${t.desired === "running" ? "stop" : "start"}`, { method: "POST" });
          Object.assign(t, now);
          cells.state.textContent = now.state;
          cells.state.className = `state ${now.state}`;
          button.textContent = now.desired === "running" ? "Stop" : "Start";
          button.className = now.desired === "running" ? "secondary" : "";
          if (now.state === "failed") toast(`${t.name}: ${now.error}`, "error");
        } catch (e) { toast(e.message, "error"); }
        button.disabled = false;
      } }, t.desired === "running" ? "Stop" : "Start");
    list.append(h("article", { class: "card trader", dataset: { trader: t.trader_id } },
      h("div", { class: "bar" }, h("a", { href: `#/traders/${t.trader_id}`, class: "name" }, t.name), cells.state),
      h("div", { class: "muted small" }, describe(t)),
      h("dl", { class: "kpis" },
        h("div", { class: "span" }, h("dt", {}, "Equity"), h("dd", { class: "equity" }, cells.equity)),
        h("div", {}, h("dt", {}, "Return"), h("dd", { class: "return" }, cells.ret)),
        h("div", {}, h("dt", {}, "Drawdown"), h("dd", { class: "drawdown" }, cells.dd)),
        h("div", {}, h("dt", {}, "Today"), h("dd", { class: "today" }, cells.today))),
      h("div", { class: "bar" }, cells.asof, h("span", {}, button,
        h("a", { class: "button ghost", href: `#/traders/${t.trader_id}` }, "Open")))));
    const entry = { trader: t, points: [], initial: Number(t.config.cash || 1e6), cells, cur };
    state.set(t.trader_id, entry);
  }

  const paint = (e) => {
    const s = equityStats(e.points, e.initial);
    if (!e.points.length) return;
    e.cells.equity.textContent = money(e.points[e.points.length - 1].equity, e.cur);
    signed(e.cells.ret, s.ret, pct(s.ret));
    signed(e.cells.dd, s.drawdown, pct(s.drawdown));
    const tp = todayPnl(e.points, e.initial);
    signed(e.cells.today, tp, money(tp.toFixed(2), e.cur));
    e.cells.asof.textContent = "as of " + e.points[e.points.length - 1].ts.slice(0, 10);
  };

  const off = live.subscribe("equity", {}, (m) => {
    const e = state.get(m.trader_id);
    if (!e) return;
    e.points.push({ ts: m.ts, equity: m.equity });
    if (e.points.length > 20000) e.points.splice(0, 10000);
    if (e.cells.state.textContent !== "running") { e.cells.state.textContent = "running"; e.cells.state.className = "state running"; }
    paint(e);
  });

  await Promise.all([...state.values()].map(async (e) => {
    const [acct, pts] = await Promise.all([
      api("/account", { query: { trader_id: e.trader.trader_id } }),
      api("/account/equity", { query: { trader_id: e.trader.trader_id, limit: 10000 } })]);
    e.initial = Number(acct.initial_cash);
    // events that arrived while the history loaded are newer than it: keep them after it
    const last = pts.length ? pts[pts.length - 1].ts : "";
    e.points = [...pts, ...e.points.filter((p) => p.ts > last)];
    if (!e.points.length) e.cells.equity.textContent = money(acct.cash, e.cur);
    paint(e);
  }));
  return off;
}

function createForm(strategies, symbols) {
  const tradable = symbols.filter((s) => !s.is_index);
  const name = h("input", { name: "name", required: true, value: "my trader", maxlength: 100 });
  const strategy = h("select", { name: "strategy" }, strategyOptions(strategies, "dual_ma"));
  const syms = h("input", { name: "symbols", required: true, value: tradable.slice(0, 2).map((s) => s.symbol).join(", "),
                            list: "symbol-list", placeholder: "600519.SH, 000001.SZ" });
  const cash = h("input", { name: "cash", required: true, value: "1000000", inputmode: "decimal" });
  const speed = h("input", { name: "speed", type: "number", min: 0, step: "any", value: 86400,
                             title: "x real time; 86400 replays one day of bars per second; 0 as fast as possible" });
  const first = tradable.length ? tradable[0].first.slice(0, 10) : "";
  const lastDay = tradable.length ? tradable[0].last.slice(0, 10) : "";
  const start = h("input", { name: "start", type: "date", value: first, min: first, max: lastDay });
  const end = h("input", { name: "end", type: "date", min: first, max: lastDay });
  const params = h("input", { name: "params", value: '{"fast": 5, "slow": 20, "size": 100}', placeholder: "{}" });
  strategy.addEventListener("change", () => {
    const s = strategies.find((x) => x.name === strategy.value);
    const defaults = {};
    for (const [k, p] of Object.entries(s ? s.params : {})) if (p.default !== undefined && p.default !== null && typeof p.default !== "object") defaults[k] = p.default;
    params.value = JSON.stringify(defaults);
  });
  const err = h("p", { class: "error" });
  const form = h("form", { class: "card form", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    let p;
    try { p = params.value.trim() ? JSON.parse(params.value) : {}; } catch { err.textContent = "params: not valid JSON"; return; }
    const body = { name: name.value.trim(), config: {
      strategy: strategy.value, params: p, cash: cash.value.trim(), speed: Number(speed.value || 0),
      symbols: syms.value.split(/[,\s]+/).filter(Boolean) } };
    if (start.value) body.config.start = start.value;
    if (end.value) body.config.end = end.value;
    try {
      const t = await api("/traders", { method: "POST", body });
      toast(`Created ${t.name}`);
      location.hash = "#/traders/" + t.trader_id;
    } catch (e) { err.textContent = fieldMessage(e); }
  } },
  h("h2", {}, "New paper trader"),
  h("div", { class: "grid" },
    h("label", {}, "Name", name), h("label", {}, "Strategy", strategy),
    h("label", { class: "wide" }, "Symbols", syms), h("label", {}, "Cash", cash),
    h("label", {}, "Speed (x real time)", speed), h("label", {}, "From", start), h("label", {}, "To", end),
    h("label", { class: "wide" }, "Parameters (JSON)", params)),
  h("datalist", { id: "symbol-list" }, tradable.map((s) => h("option", { value: s.symbol }))),
  h("div", { class: "bar" }, err, h("button", { type: "submit" }, "Create")));
  return form;
}

export function fieldMessage(e) {
  const d = e.details;
  const field = Array.isArray(d) ? d.map((x) => x.field).filter(Boolean).join(", ") : d && d.field;
  return field ? `${e.message} (${field})` : e.message;
}
