// Market: candlesticks and volume of one symbol, the chosen trader's buys and sells on it, and the
// days that closed at the limit up / limit down price (the band comes from the server, computed by
// the same rules as the venue's).

import { all, api } from "../api.js";
import * as live from "../live.js";
import { candleFigure, draw, purge } from "../charts.js";
import { day, h, pct, price, signed, throttle } from "../util.js";

export async function render(main, { query, alive }) {
  const [symbols, traders] = await Promise.all([api("/symbols"), api("/traders")]);
  if (!alive()) return;
  const symbol = query.get("symbol") || (symbols.find((s) => !s.is_index) || symbols[0] || {}).symbol;
  const traderId = query.get("trader") || "";
  const pick = h("select", { name: "symbol" }, symbols.map((s) => h("option", { value: s.symbol, selected: s.symbol === symbol }, s.symbol)));
  const who = h("select", { name: "trader" }, h("option", { value: "" }, "— no trader —"),
                traders.map((t) => h("option", { value: t.trader_id, selected: t.trader_id === traderId }, t.name)));
  const go = () => { location.hash = `#/market?symbol=${encodeURIComponent(pick.value)}${who.value ? "&trader=" + who.value : ""}`; };
  pick.addEventListener("change", go);
  who.addEventListener("change", go);
  const quote = h("span", { class: "quote" });
  const info = h("p", { class: "muted small" });
  const chart = h("div", { class: "chart tall", id: "candles" });
  main.append(h("div", { class: "bar" }, h("h1", {}, "Market"), h("span", { class: "pickers" }, pick, who)),
              h("section", { class: "card" }, h("div", { class: "bar" }, h("h2", {}, symbol), quote), chart, info));
  if (!symbol) return;

  // With a trader chosen, the chart follows the trader's clock (its replay never shows bars after "now")
  // and grows as the trader's quotes arrive; without one it shows the whole file.
  let asOf = null;
  if (traderId) {
    const acct = await api("/account", { query: { trader_id: traderId } }).catch(() => null);
    asOf = acct && acct.as_of ? acct.as_of.slice(0, 10) : null;
  }
  let bars = [], fills = [];
  const load = async () => {
    [bars, fills] = await Promise.all([
      api(`/market/${encodeURIComponent(symbol)}/bars`, { query: { limit: 5000, end: asOf } }).then((r) => r.bars),
      traderId ? all("/trades", { trader_id: traderId, symbol }) : Promise.resolve([]),
    ]);
    if (!alive()) return;
    const fig = candleFigure(bars, fills, symbol);
    fig.layout.uirevision = symbol; // keep the user's zoom when the chart grows
    await draw(chart, fig.data, fig.layout);
    const lu = bars.filter((b) => b.limit_up !== null && b.close !== null && +b.close >= +b.limit_up).length;
    const ld = bars.filter((b) => b.limit_down !== null && b.close !== null && +b.close <= +b.limit_down).length;
    info.textContent = `${bars.length} bars ${day(bars[0]?.ts)} – ${day(bars[bars.length - 1]?.ts)} · `
      + `${lu} days closed limit up (涨停), ${ld} limit down (跌停)`
      + (traderId ? ` · ${fills.filter((f) => f.side === "buy").length} buys, ${fills.filter((f) => f.side === "sell").length} sells` : "");
    const last = bars[bars.length - 1];
    if (last && last.close !== null) showQuote(+last.close, last.preclose ? +last.preclose : null, last.ts);
  };
  const showQuote = (close, prev, ts) => {
    const chg = prev ? (close / prev - 1) * 100 : null;
    quote.replaceChildren(h("b", {}, price(close)), " ", chg === null ? "" : signed(h("span"), chg, pct(chg)),
                          h("span", { class: "muted small" }, " " + day(ts)));
  };
  if (bars.length === 0 && !symbol) return;
  await load();
  if (!traderId) return () => purge(chart);
  const reload = throttle(() => load().catch(() => {}), 2000);
  const off = live.subscribe("quotes", { symbols: [symbol] }, (q) => {
    if (q.type !== "quote" || !q.ts) return;
    if (!asOf || q.ts.slice(0, 10) > asOf) { asOf = q.ts.slice(0, 10); reload(); }
  });
  return () => { off(); purge(chart); };
}
