// Leaderboard: every trader ranked by return since its start (and competitions when there are any),
// refreshed every few seconds and on each equity event of the user's own traders.

import { api } from "../api.js";
import * as live from "../live.js";
import { h, money, pct, signed, table, throttle } from "../util.js";

const EVERY_MS = 3000;

export async function render(main, { alive }) {
  const stamp = h("span", { class: "muted small", id: "board-updated" });
  const box = h("div", { id: "board" });
  const comps = h("div", { id: "competitions" });
  main.append(h("div", { class: "bar" }, h("h1", {}, "Leaderboard"), stamp),
              h("section", { class: "card" }, h("h2", {}, "Traders"), box),
              h("section", { class: "card" }, h("h2", {}, "Competitions"), comps));
  const load = async () => {
    let board;
    try { board = await api("/leaderboard"); } catch { return; }
    if (!alive()) return;
    box.replaceChildren(table([
      { label: "#", cls: "num", render: (r) => r.rank },
      { label: "Trader", render: (r) => (r.trader_id ? h("a", { href: `#/traders/${r.trader_id}` }, r.name) : r.name) },
      { label: "Return", cls: "num", render: (r) => signed(h("span"), r.return_pct, pct(r.return_pct)) },
      { label: "Equity", cls: "num", render: (r) => money(r.equity) },
      { label: "Owner", render: (r) => r.owner }, { label: "Kind", render: (r) => r.kind },
    ], board.traders, { empty: "No trader has traded yet.", rowAttrs: (r) => ({ dataset: { rank: r.rank } }) }));
    comps.replaceChildren(...(board.competitions.length ? board.competitions.map(competition)
                                                        : [h("p", { class: "muted" }, "No competitions yet (nofx compete).")]));
    stamp.textContent = "updated " + new Date().toLocaleTimeString();
  };
  await load();
  const timer = setInterval(load, EVERY_MS);
  const off = live.subscribe("equity", {}, throttle(load, 1000));
  return () => { clearInterval(timer); off(); };
}

// A competition as the API gives it: a name and ranked rows; any other fields are shown as they come.
function competition(c) {
  const rows = c.rows || c.leaderboard || c.traders || c.entries || [];
  const title = [c.name || c.competition_id || c.id || "competition", c.status, c.rank_by && `ranked by ${c.rank_by}`]
    .filter(Boolean).join(" · ");
  if (!rows.length) return h("div", {}, h("h3", {}, title), h("pre", { class: "small" }, JSON.stringify(c, null, 1)));
  const keys = Object.keys(rows[0]).filter((k) => typeof rows[0][k] !== "object").slice(0, 8);
  return h("div", {}, h("h3", {}, title), table(keys.map((k) => ({ label: k, render: (r) => {
    const v = r[k];
    return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(4) : v;
  } })), rows));
}
