// The dashboard's shell: hash routes (#/traders, #/traders/ID, #/market, #/backtests, #/backtests/ID,
// #/leaderboard), the header (live indicator, colour convention, log out), and page lifecycles: a page's
// render(main, params) may return a cleanup function, called when the route changes.

import { loggedIn, logout, onSession } from "./api.js";
import * as live from "./live.js";
import { $, applyColorMode, colorMode, setColorMode, h, toast } from "./util.js";
import * as loginPage from "./pages/login.js";
import * as tradersPage from "./pages/traders.js";
import * as traderPage from "./pages/trader.js";
import * as marketPage from "./pages/market.js";
import * as backtestsPage from "./pages/backtests.js";
import * as leaderboardPage from "./pages/leaderboard.js";

const routes = [
  [/^#\/login$/, loginPage, "login"],
  [/^#\/traders\/([\w-]+)$/, traderPage, "traders"],
  [/^#\/traders$/, tradersPage, "traders"],
  [/^#\/market$/, marketPage, "market"],
  [/^#\/backtests\/([\w-]+)$/, backtestsPage, "backtests"],
  [/^#\/backtests$/, backtestsPage, "backtests"],
  [/^#\/leaderboard$/, leaderboardPage, "leaderboard"],
];

let cleanup = null;
let generation = 0;

function parse() {
  const [path, qs] = (location.hash || "#/traders").split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

async function route() {
  const { path, query } = parse();
  if (!loggedIn() && path !== "#/login") {
    location.hash = "#/login";
    return;
  }
  const hit = routes.find(([re]) => re.test(path));
  if (!hit) { location.hash = "#/traders"; return; }
  const [re, page, name] = hit;
  const args = path.match(re).slice(1);
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  const gen = ++generation;
  $("#top").hidden = name === "login";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === name);
  const main = $("#main");
  main.replaceChildren();
  main.dataset.page = name;
  if (name !== "login") live.start();
  try {
    const done = await page.render(main, { args, query, alive: () => gen === generation });
    if (gen === generation) cleanup = done || null; else if (done) done();
  } catch (e) {
    if (gen !== generation) return;
    main.append(h("p", { class: "error" }, `Could not load this page: ${e.message}`));
  }
}

function paintColors() {
  const b = $("#colors");
  b.textContent = colorMode() === "cn" ? "红涨绿跌" : "Green up";
  b.title = colorMode() === "cn" ? "red up, green down (switch to green up)" : "green up, red down (switch to red up)";
}

function init() {
  applyColorMode();
  paintColors();
  $("#colors").addEventListener("click", () => {
    setColorMode(colorMode() === "cn" ? "intl" : "cn");
    paintColors();
    route(); // redraw charts in the new colours
  });
  $("#logout").addEventListener("click", async () => {
    live.stop();
    await logout();
    location.hash = "#/login";
  });
  live.onStatus((on) => {
    const el = $("#live");
    el.classList.toggle("off", !on);
    el.title = on ? "live: connected" : "live: reconnecting";
  });
  onSession((s) => {
    if (!s) { live.stop(); if (location.hash !== "#/login") { toast("Session ended: please log in again"); location.hash = "#/login"; } }
  });
  window.addEventListener("hashchange", route);
  route();
}

init();
