// One trader: KPIs, equity against a benchmark with drawdown, positions (cost, PnL, sellable vs total),
// an order ticket, open orders with cancel, fills, rejections with their reasons and, for AI traders,
// the decision log. Equity, orders, fills and quotes arrive over the WebSocket.

import { all, api } from "../api.js";
import * as live from "../live.js";
import { draw, equityFigure, purge } from "../charts.js";
import { currencyOf, describe, equityStats, h, money, num, pct, price, signed, table, throttle, toast, todayPnl, when } from "../util.js";
import { fieldMessage } from "./traders.js";

const BENCHMARKS = ["000300.SH", "000905.SH", "000001.SH", "HSI.HK"];

export async function render(main, { args, alive }) {
  const id = args[0];
  const [t, acct, symbols] = await Promise.all([api(`/traders/${id}`), api("/account", { query: { trader_id: id } }),
                                                api("/symbols")]);
  if (!alive()) return;
  const cur = currencyOf(t.config.symbols);
  const initial = Number(acct.initial_cash);
  let points = [];
  let bench = [];
  const benchSym = BENCHMARKS.find((b) => symbols.some((s) => s.symbol === b)) || null;
  const lastPrice = new Map();
  const offs = [];

  // ---- header and KPIs -----------------------------------------------------------------------------
  const stateEl = h("span", { class: `state ${t.state}` }, t.state);
  const k = { equity: h("dd", { class: "equity big" }, money(acct.equity ?? acct.cash, cur)), ret: h("dd", { class: "return" }, "—"),
              dd: h("dd", { class: "drawdown" }, "—"), mdd: h("dd", {}, "—"), today: h("dd", { class: "today" }, "—"),
              cash: h("dd", {}, money(acct.cash, cur)), asof: h("dd", { class: "asof" }, when(acct.as_of)) };
  const toggle = h("button", { type: "button", class: t.desired === "running" ? "secondary" : "", onclick: async () => {
    toggle.disabled = true;
    try {
      const now = await api(`/traders/${id}/${t.desired === "running" ? "stop" : "start"}`, { method: "POST" });
      Object.assign(t, now);
      stateEl.textContent = now.state; stateEl.className = `state ${now.state}`;
      toggle.textContent = now.desired === "running" ? "Stop" : "Start";
      toggle.className = now.desired === "running" ? "secondary" : "";
      if (now.error) toast(now.error, "error");
    } catch (e) { toast(e.message, "error"); }
    toggle.disabled = false;
  } }, t.desired === "running" ? "Stop" : "Start");
  main.append(
    h("div", { class: "bar" }, h("h1", {}, t.name, " ", stateEl),
      h("span", {}, h("a", { class: "button ghost", href: `#/market?symbol=${encodeURIComponent(t.config.symbols[0])}&trader=${id}` }, "Market"), toggle)),
    h("p", { class: "muted small" }, describe(t)),
    h("dl", { class: "kpis wide" },
      h("div", {}, h("dt", {}, "Equity"), k.equity), h("div", {}, h("dt", {}, "Return"), k.ret),
      h("div", {}, h("dt", {}, "Drawdown"), k.dd), h("div", {}, h("dt", {}, "Max drawdown"), k.mdd),
      h("div", {}, h("dt", {}, "Today's PnL"), k.today), h("div", {}, h("dt", {}, "Cash"), k.cash),
      h("div", {}, h("dt", {}, "As of"), k.asof)));

  // ---- equity chart ------------------------------------------------------------------------------------
  const chart = h("div", { class: "chart", id: "equity-chart" });
  const noEquity = h("p", { class: "muted" }, "No equity yet: start the trader.");
  main.append(h("section", { class: "card" }, h("h2", {}, "Equity", benchSym ? ` vs ${benchSym} (scaled)` : ""), noEquity, chart));

  const paint = () => {
    if (!points.length) return;
    const s = equityStats(points, initial);
    const last = points[points.length - 1];
    k.equity.textContent = money(last.equity, cur);
    signed(k.ret, s.ret, pct(s.ret));
    signed(k.dd, s.drawdown, pct(s.drawdown));
    signed(k.mdd, s.maxDrawdown, pct(s.maxDrawdown));
    const tp = todayPnl(points, initial);
    signed(k.today, tp, money(tp.toFixed(2), cur));
    if (last.cash !== undefined) k.cash.textContent = money(last.cash, cur);
    k.asof.textContent = when(last.ts);
  };
  const redraw = throttle(() => {
    if (!alive() || !points.length) return;
    noEquity.hidden = true;
    const end = points[points.length - 1].ts, start = points[0].ts;
    const b = bench.filter((x) => x.ts >= start.slice(0, 10) && x.ts <= end); // never past the trader's clock
    let scaled = [];
    if (b.length) {
      const base = Number(points[0].equity) / b[0].close;
      scaled = b.map((x) => ({ ts: x.ts, value: x.close * base }));
    }
    const fig = equityFigure(points, scaled, benchSym);
    draw(chart, fig.data, fig.layout).catch((e) => toast(e.message, "error"));
  }, 500);

  // ---- positions -----------------------------------------------------------------------------------------
  const posBox = h("div");
  main.append(h("section", { class: "card" }, h("h2", {}, "Positions"), posBox));
  let positions = [];
  const paintPositions = () => {
    posBox.replaceChildren(table([
      { label: "Symbol", render: (p) => h("a", { href: `#/market?symbol=${p.symbol}&trader=${id}` }, p.symbol) },
      { label: "Qty", cls: "num", render: (p) => num(p.quantity) },
      { label: "Sellable", cls: "num", render: (p) => (p.sellable === null ? "—" : num(p.sellable)) },
      { label: "Avg cost", cls: "num", render: (p) => price(p.avg_cost) },
      { label: "Last", cls: "num", render: (p) => price(lastPrice.get(p.symbol) ?? p.last_price) },
      { label: "Value", cls: "num", render: (p) => money(markValue(p), cur) },
      { label: "Unrealised", cls: "num", render: (p) => { const v = unrealised(p); return signed(h("span"), v, money(v === null ? null : v.toFixed(2), cur)); } },
      { label: "Realised", cls: "num", render: (p) => signed(h("span"), Number(p.realised_pnl), money(p.realised_pnl, cur)) },
    ], positions, { empty: "No open positions." }));
  };
  const mark = (p) => { const q = lastPrice.get(p.symbol) ?? p.last_price; return q === null || q === undefined ? null : Number(q); };
  const markValue = (p) => { const m = mark(p); return m === null ? null : (m * p.quantity).toFixed(2); };
  const unrealised = (p) => { const m = mark(p); return m === null ? null : (m - Number(p.avg_cost)) * p.quantity; };
  const loadPositions = throttle(async () => {
    if (!alive()) return;
    positions = await api("/positions", { query: { trader_id: id } });
    if (alive()) paintPositions();
  }, 1000);

  // ---- order ticket and open orders ----------------------------------------------------------------------
  const sym = h("select", { name: "symbol" }, t.config.symbols.map((s) => h("option", { value: s }, s)));
  const side = h("select", { name: "side" }, h("option", { value: "buy" }, "Buy"), h("option", { value: "sell" }, "Sell"));
  const qty = h("input", { name: "quantity", type: "number", min: 1, step: 1, value: 100, required: true });
  const otype = h("select", { name: "order_type" }, h("option", { value: "limit" }, "Limit"), h("option", { value: "market" }, "Market"));
  const lim = h("input", { name: "limit_price", inputmode: "decimal", placeholder: "price" });
  otype.addEventListener("change", () => { lim.disabled = otype.value === "market"; });
  const ticketErr = h("p", { class: "error" });
  const ticket = h("form", { class: "ticket", onsubmit: async (ev) => {
    ev.preventDefault();
    ticketErr.textContent = "";
    const body = { trader_id: id, client_order_id: "ui-" + crypto.randomUUID().slice(0, 18), symbol: sym.value,
                   side: side.value, quantity: Number(qty.value), order_type: otype.value };
    if (otype.value === "limit") body.limit_price = lim.value.trim();
    try {
      const o = await api("/orders", { method: "POST", body });
      toast(o.status === "rejected" ? `Rejected: ${o.reject_reason}` : `Order ${shortId(o.order_id)} ${o.status}`,
            o.status === "rejected" ? "error" : "info");
      loadOrders();
    } catch (e) { ticketErr.textContent = fieldMessage(e); }
  } }, sym, side, qty, otype, lim, h("button", { type: "submit" }, "Send"), ticketErr);
  const openBox = h("div", { id: "open-orders" });
  const rejBox = h("div", { id: "rejections" });
  main.append(h("section", { class: "card" }, h("h2", {}, "Orders"), ticket, h("h3", {}, "Open orders"), openBox,
                h("h3", {}, "Rejections"), rejBox));
  const loadOrders = throttle(async () => {
    const [open, rejected] = await Promise.all([all("/orders", { trader_id: id, open: true }),
                                                all("/orders", { trader_id: id, status: "rejected" })]);
    if (!alive()) return;
    openBox.replaceChildren(table([
      { label: "Order", render: (o) => shortId(o.order_id) },
      { label: "Created", render: (o) => when(o.created) }, { label: "Symbol", render: (o) => o.symbol },
      { label: "Side", render: (o) => o.side }, { label: "Qty", cls: "num", render: (o) => num(o.quantity) },
      { label: "Filled", cls: "num", render: (o) => num(o.filled_qty) },
      { label: "Limit", cls: "num", render: (o) => price(o.limit_price) }, { label: "Status", render: (o) => o.status },
      { label: "", render: (o) => h("button", { type: "button", class: "small danger", dataset: { cancel: o.order_id },
          onclick: async (ev) => {
            ev.target.disabled = true;
            try { await api(`/orders/${o.order_id}`, { method: "DELETE" }); toast(`Cancelled ${shortId(o.order_id)}`); }
            catch (e) { toast(e.message, "error"); }
            loadOrders();
          } }, "Cancel") },
    ], open.reverse(), { empty: "No open orders.", rowAttrs: (o) => ({ dataset: { order: o.order_id } }) }));
    rejBox.replaceChildren(table([
      { label: "Time", render: (o) => when(o.updated || o.created) }, { label: "Symbol", render: (o) => o.symbol },
      { label: "Side", render: (o) => o.side }, { label: "Qty", cls: "num", render: (o) => num(o.quantity) },
      { label: "Code", render: (o) => h("code", {}, o.reject_code) }, { label: "Reason", cls: "reason", render: (o) => o.reject_reason },
    ], rejected.slice(-50).reverse(), { empty: "No rejections." }));
  }, 1000);

  // ---- fills ---------------------------------------------------------------------------------------------
  const fillBox = h("div", { id: "fills" });
  main.append(h("section", { class: "card" }, h("h2", {}, "Fills"), fillBox));
  let fills = [];
  const paintFills = () => fillBox.replaceChildren(table([
    { label: "Time", render: (f) => when(f.ts) }, { label: "Symbol", render: (f) => f.symbol },
    { label: "Side", render: (f) => h("span", { class: f.side === "buy" ? "up" : "down" }, f.side) },
    { label: "Qty", cls: "num", render: (f) => num(f.quantity) }, { label: "Price", cls: "num", render: (f) => price(f.price) },
    { label: "Fee", cls: "num", render: (f) => money(f.fee, cur) },
    { label: "Realised", cls: "num", render: (f) => (f.realised_pnl === null || f.realised_pnl === undefined ? "—"
        : signed(h("span"), Number(f.realised_pnl), money(f.realised_pnl, cur))) },
  ], fills.slice(-100).reverse(), { empty: "No fills yet." }));

  // ---- AI decision log ---------------------------------------------------------------------------------
  const decBox = h("div", { id: "decisions" });
  main.append(h("section", { class: "card" }, h("h2", {}, "AI decision log"), decBox));
  const loadDecisions = throttle(async () => {
    const rows = await api(`/traders/${id}/decisions`, { query: { limit: 50 } });
    if (!alive()) return;
    if (!rows.length) {
      decBox.replaceChildren(h("p", { class: "muted" }, t.kind === "strategy"
        ? "A strategy trader makes no LLM decisions." : "No decision cycles yet."));
      return;
    }
    // keep the cycles the user opened open across refreshes
    const open = new Set([...decBox.querySelectorAll("details[open]")].map((d) => d.dataset.cycle));
    decBox.replaceChildren(...rows.slice().reverse().map((d) => {
      const card = decisionCard(d);
      card.open = open.has(String(d.cycle));
      return card;
    }));
  }, 3000);

  // ---- live -----------------------------------------------------------------------------------------------
  offs.push(live.subscribe("equity", { trader_id: id }, (m) => {
    points.push({ ts: m.ts, equity: m.equity, cash: m.cash });
    if (stateEl.textContent !== "running") { stateEl.textContent = "running"; stateEl.className = "state running"; }
    paint(); redraw(); loadPositions(); // a new day unlocks yesterday's buys (T+1)
    if (t.kind === "ai") loadDecisions(); // a cycle may decide to hold: no order event tells of it
  }));
  offs.push(live.subscribe("orders", { trader_id: id }, () => { loadOrders(); loadDecisions(); }));
  offs.push(live.subscribe("fills", { trader_id: id }, (f) => {
    fills.push(f); paintFills(); loadPositions();
  }));
  offs.push(live.subscribe("quotes", { symbols: t.config.symbols }, (q) => {
    if (q.close !== undefined && q.close !== null) { lastPrice.set(q.symbol, q.close); }
    if (positions.some((p) => p.symbol === q.symbol)) paintPositionsSoon();
  }));
  const paintPositionsSoon = throttle(paintPositions, 500);

  // ---- first load ----------------------------------------------------------------------------------------
  const [pts, fl, b] = await Promise.all([
    api("/account/equity", { query: { trader_id: id, limit: 10000 } }),
    all("/trades", { trader_id: id }),
    benchSym ? api(`/market/${benchSym}/bars`, { query: { start: t.config.start, end: t.config.end, limit: 5000 } })
               .then((r) => r.bars.filter((x) => x.close !== null).map((x) => ({ ts: x.ts, close: Number(x.close) })))
               .catch(() => []) : Promise.resolve([]),
  ]);
  if (!alive()) return () => offs.forEach((f) => f());
  const last = pts.length ? pts[pts.length - 1].ts : "";
  points = [...pts, ...points.filter((p) => p.ts > last)];
  const known = new Set(fl.map((f) => f.fill_id));
  fills = [...fl, ...fills.filter((f) => !known.has(f.fill_id))];
  bench = b;
  paint(); paintFills(); redraw(); loadPositions(); loadOrders(); loadDecisions();
  return () => { offs.forEach((f) => f()); purge(chart); };
}

// Order ids are "<trader id>-O<n>": the trader is on screen already.
const shortId = (orderId) => orderId.slice(orderId.lastIndexOf("-") + 1);

function decisionCard(d) {
  const calls = d.calls || [];
  const tokens = calls.reduce((a, c) => a + (c.prompt_tokens || 0), 0);
  const prompt = calls.map((c) => `${c.role || "model"}/${c.purpose || "decide"} · ${c.prompt_tokens ?? "?"} prompt tokens`
                                   + (c.prompt_hash ? ` · prompt ${String(c.prompt_hash).slice(0, 10)}` : "")
                                   + (c.cached ? " · cached" : "")).join("; ");
  const reasoning = (d.decisions || []).map((x) => x.reasoning).filter(Boolean).join(" · ")
    || (calls.find((c) => c.reply) || {}).reply || "";
  return h("details", { class: "decision", dataset: { cycle: d.cycle } },
    h("summary", {}, `#${d.cycle} · ${when(d.datetime)} · ${d.status} · ${(d.decisions || []).length} decisions`
      + (d.error ? ` · ${d.error}` : "")),
    h("p", { class: "small" }, h("b", {}, "Prompt: "), prompt || "—", ` (model ${d.model || "?"}, ${tokens} tokens, ${d.latency_ms ?? "?"} ms)`),
    h("p", { class: "small reasoning" }, h("b", {}, "Reasoning: "), reasoning.slice(0, 2000) || "—"),
    table([
      { label: "Symbol", render: (x) => x.symbol }, { label: "Action", render: (x) => x.action },
      { label: "Size", render: (x) => x.size ?? x.quantity ?? x.target_percent ?? "—" },
      { label: "Confidence", render: (x) => x.confidence ?? "—" },
    ], d.decisions || [], { empty: "No decisions (hold)." }),
    table([
      { label: "Symbol", render: (o) => o.symbol }, { label: "Action", render: (o) => o.action },
      { label: "Risk", render: (o) => h("span", { class: `verdict ${o.status}` }, o.status) },
      { label: "Reason", cls: "reason", render: (o) => o.reason || "—" },
      { label: "Order", render: (o) => (o.order ? `${o.order.side} ${o.order.quantity}${o.order.limit_price ? " @ " + o.order.limit_price : ""}` : "—") },
    ], d.outcomes || [], { empty: "Nothing reached the risk engine." }));
}
