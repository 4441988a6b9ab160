// The dashboard's one WebSocket to /api/v1/ws. Pages subscribe to channels with a handler; the client
// (re)authenticates with the first message (browsers cannot set headers on a WebSocket, and tokens never
// go in URLs), replays every subscription after a reconnect, and reconnects with a growing pause.

import { token, refresh } from "./api.js";

const subs = new Map(); // key -> {msg, handlers:Set}
let ws = null;
let backoff = 500;
let wanted = false;
let statusFn = () => {};

const keyOf = (m) => m.channel + ":" + (m.trader_id || (m.symbols || []).join(",") || "*");

export function onStatus(fn) { statusFn = fn; }

export function start() {
  wanted = true;
  if (!ws) connect();
}

export function stop() {
  wanted = false;
  subs.clear();
  if (ws) { const w = ws; ws = null; w.close(); }
  statusFn(false);
}

function connect() {
  if (!wanted || !token()) return;
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const sock = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
  ws = sock;
  sock.onopen = () => sock.send(JSON.stringify({ action: "auth", token: token() }));
  sock.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "ready") {
      backoff = 500;
      statusFn(true);
      for (const s of subs.values()) sock.send(JSON.stringify(s.wire));
      return;
    }
    dispatch(msg);
  };
  sock.onclose = async (ev) => {
    if (ws === sock) ws = null;
    statusFn(false);
    if (!wanted) return;
    if (ev.code === 4401) { try { await refresh(); } catch { return; } }
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  };
}

function dispatch(msg) {
  for (const s of subs.values()) {
    const m = s.msg;
    let hit = false;
    if (msg.type === "subscribed" || msg.type === "unsubscribed") {
      hit = msg.type === "subscribed" && msg.channel === m.channel && m.channel === "quotes"
        && (msg.symbols || []).some((x) => (m.symbols || []).includes(x));
    } else if (msg.type === "quote") hit = m.channel === "quotes" && (m.symbols || []).includes(msg.symbol);
    else if (msg.type + "s" === m.channel || msg.type === m.channel) hit = !m.trader_id || m.trader_id === msg.trader_id;
    if (hit) for (const fn of s.handlers) fn(msg);
  }
}

// Subscribe `handler` to a channel ("equity" | "orders" | "fills" with an optional trader_id, or
// "quotes" with symbols); returns the function that unsubscribes it. Trader channels are asked of the
// server for all the user's traders (its per-connection trader filter is shared by every channel) and
// filtered here by trader_id.
export function subscribe(channel, opts, handler) {
  const filter = { channel, ...opts };
  const wire = channel === "quotes" ? { action: "subscribe", channel, symbols: opts.symbols }
                                    : { action: "subscribe", channel };
  const key = keyOf(filter);
  let s = subs.get(key);
  if (!s) {
    s = { msg: filter, wire, handlers: new Set() };
    subs.set(key, s);
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(wire));
  }
  s.handlers.add(handler);
  return () => {
    s.handlers.delete(handler);
    if (s.handlers.size === 0 && subs.get(key) === s) {
      subs.delete(key);
      if (channel === "quotes" && ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ ...wire, action: "unsubscribe" }));
      }
    }
  };
}
