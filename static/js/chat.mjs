/**
 * The chat page (templates/chat/chat.html): DOM only. The protocol and the
 * connection live in ./securemsg/; this module renders what they report.
 * Message bodies are only ever written with textContent, and nothing here
 * logs to the console.
 */

import { SecureConnection } from "./securemsg/connection.mjs";
import { groupFingerprint } from "./securemsg/pins.mjs";

const root = document.getElementById("chat");
const me = root.dataset.username;
const statusEl = document.getElementById("status");
const statusText = document.getElementById("status-text");
const fingerprintEl = document.getElementById("fingerprint");
const fingerprintState = document.getElementById("fingerprint-state");
const conversationsEl = document.getElementById("conversations");
const messagesEl = document.getElementById("messages");
const emptyEl = document.getElementById("messages-empty");
const olderButton = document.getElementById("load-older");
const composer = document.getElementById("composer");
const bodyInput = document.getElementById("body");
const sendButton = document.getElementById("send");
const peerName = document.getElementById("peer-name");
const peerAvatar = document.getElementById("peer-avatar");
const keyWarning = document.getElementById("key-warning");

const STATUS_TEXT = {
  connecting: "Connecting…",
  secure: "Secure",
  reconnecting: "Reconnecting…",
  failed: "Failed",
};
const TICKS = { sent: "✓", stored: "✓✓", delivered: "✓✓", failed: "!" };
const TICK_LABELS = { sent: "Sent", stored: "Stored on the server", delivered: "Delivered", failed: "Not sent" };

/** conversations by username: items by key (mid, or the client id before the ack) */
const conversations = new Map();
let active = null;
let order = 0;

function conversation(user) {
  if (!conversations.has(user)) {
    conversations.set(user, { items: new Map(), loaded: false, more: false, oldest: null, unread: 0 });
  }
  return conversations.get(user);
}

function entryFor(user) {
  let li = conversationsEl.querySelector(`li[data-user="${CSS.escape(user)}"]`);
  if (!li) {
    conversationsEl.querySelector(".conversations-empty")?.remove();
    li = document.createElement("li");
    li.className = "conversation";
    li.dataset.user = user;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation-button";
    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = user.slice(0, 1).toUpperCase();
    const name = document.createElement("span");
    name.className = "conversation-name";
    name.textContent = user;
    const unread = document.createElement("span");
    unread.className = "unread";
    unread.hidden = true;
    button.append(avatar, name, unread);
    li.append(button);
    conversationsEl.append(li);
  }
  return li;
}

function formatTime(ts) {
  if (!ts) return "";
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return "";
  const sameDay = date.toDateString() === new Date().toDateString();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return sameDay ? time : `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

/** Build or update the bubble of one item. */
function renderItem(item) {
  let el = item.el;
  if (!el) {
    el = document.createElement("div");
    el.className = `message ${item.from === me ? "out" : "in"}`;
    const body = document.createElement("div");
    body.className = "message-body";
    body.textContent = item.body;
    const meta = document.createElement("div");
    meta.className = "message-meta";
    const time = document.createElement("time");
    const ticks = document.createElement("span");
    ticks.className = "ticks";
    meta.append(time, ticks);
    el.append(body, meta);
    item.el = el;
  }
  if (item.mid) el.dataset.mid = item.mid;
  if (item.id) el.dataset.id = item.id;
  const time = el.querySelector("time");
  time.textContent = formatTime(item.ts);
  if (item.ts) time.dateTime = item.ts;
  const ticks = el.querySelector(".ticks");
  if (item.from === me) {
    el.dataset.state = item.state;
    ticks.textContent = TICKS[item.state] ?? "";
    ticks.title = TICK_LABELS[item.state] ?? "";
    ticks.setAttribute("aria-label", ticks.title);
  }
  return el;
}

function sortedItems(conv) {
  return [...conv.items.values()].sort((a, b) => {
    const ta = a.ts ?? "\uffff";
    const tb = b.ts ?? "\uffff";
    return ta < tb ? -1 : ta > tb ? 1 : a.order - b.order;
  });
}

function renderConversation() {
  for (const el of messagesEl.querySelectorAll(".message")) el.remove();
  if (!active) {
    emptyEl.hidden = false;
    olderButton.hidden = true;
    return;
  }
  const conv = conversation(active);
  const items = sortedItems(conv);
  emptyEl.hidden = items.length > 0;
  olderButton.hidden = !conv.more;
  messagesEl.append(...items.map(renderItem));
}

function scrollToEnd() {
  messagesEl.scrollTop = messagesEl.scrollHeight;
}

/** Add or merge an item (keyed by mid once known) and show it if visible. */
function upsert(user, fields) {
  const conv = conversation(user);
  const key = fields.mid ?? fields.id;
  let item = conv.items.get(key);
  if (!item && fields.id && fields.mid) {
    item = conv.items.get(fields.id); // our own message, now acknowledged
    if (item) {
      conv.items.delete(fields.id);
      conv.items.set(fields.mid, item);
    }
  }
  if (!item) {
    item = { order: order++, el: null, ...fields };
    conv.items.set(key, item);
  } else {
    Object.assign(item, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null)));
  }
  if (user === active) {
    const atEnd = messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 40;
    const el = renderItem(item);
    if (!el.isConnected) {
      emptyEl.hidden = true;
      renderConversation();
      if (atEnd || item.from === me) scrollToEnd();
    }
  }
  return item;
}

function setUnread(user, count) {
  const conv = conversation(user);
  conv.unread = count;
  const badge = entryFor(user).querySelector(".unread");
  badge.textContent = String(count);
  badge.hidden = count === 0;
}

async function loadHistory(user, older = false) {
  const conv = conversation(user);
  if (connection.status.state !== "secure") return;
  try {
    const page = await connection.history(user, { before: older ? conv.oldest : null, limit: 50 });
    for (const m of page.messages) {
      const state = m.from === me ? (m.delivered ? "delivered" : "stored") : undefined;
      upsert(user, { mid: m.mid, from: m.from, to: m.to, body: m.body, ts: m.ts, state });
    }
    if (!older || page.messages.length) {
      conv.oldest = page.messages[0]?.mid ?? conv.oldest;
      conv.more = page.more;
    }
    conv.loaded = true;
    if (user === active) {
      renderConversation();
      if (!older) scrollToEnd();
    }
  } catch {
    // Not connected or refused: the next "secure" status reloads it.
  }
}

function select(user) {
  active = user;
  root.dataset.view = "conversation";
  for (const li of conversationsEl.querySelectorAll("li[data-user]")) {
    li.classList.toggle("active", li.dataset.user === user);
    li.querySelector("button")?.setAttribute("aria-current", li.dataset.user === user ? "true" : "false");
  }
  peerName.textContent = user;
  peerAvatar.textContent = user.slice(0, 1).toUpperCase();
  setUnread(user, 0);
  renderConversation();
  scrollToEnd();
  updateComposer();
  if (!conversation(user).loaded) loadHistory(user);
  bodyInput.focus();
}

function updateComposer() {
  const usable = Boolean(active) && connection.status.state !== "failed";
  bodyInput.disabled = !usable;
  sendButton.disabled = !usable || bodyInput.value.trim() === "";
}

function showFingerprint(fingerprint, verified) {
  fingerprintEl.textContent = groupFingerprint(fingerprint);
  fingerprintEl.dataset.fingerprint = fingerprint;
  fingerprintEl.dataset.verified = String(verified);
  fingerprintState.textContent = verified ? "(verified in the handshake)" : "(from this page)";
}

function wsUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${root.dataset.wsPath}`;
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const connection = new SecureConnection({
  url: wsUrl(),
  keysDocument: JSON.parse(document.getElementById("securemsg-keys").textContent),
  keysUrl: root.dataset.keysUrl,
  origin: window.location.origin,
  user: me,
  storage: storage(),
});

connection.addEventListener("status", ({ detail }) => {
  statusEl.dataset.state = detail.state;
  if (detail.reason) statusEl.dataset.reason = detail.reason;
  else delete statusEl.dataset.reason;
  statusText.textContent = detail.reason ? `${STATUS_TEXT[detail.state]}: ${detail.reason}` : STATUS_TEXT[detail.state];
  root.dataset.connection = detail.state;
  if (detail.state === "secure") {
    // Catch up with what other sessions saw while we were away.
    for (const conv of conversations.values()) conv.loaded = false;
    if (active) loadHistory(active);
  }
  updateComposer();
});

connection.addEventListener("keys", ({ detail }) => showFingerprint(detail.fingerprint, detail.verified));

connection.addEventListener("keywarning", ({ detail }) => {
  keyWarning.hidden = false;
  const fp = document.getElementById("key-warning-fingerprint");
  fp.textContent = detail.fingerprint ? `New key: ${groupFingerprint(detail.fingerprint)}` : "";
  root.dataset.keyWarning = "true";
  fingerprintEl.textContent = "not trusted";
  fingerprintEl.dataset.verified = "false";
  fingerprintState.textContent = "(refused)";
});

connection.addEventListener("message", ({ detail }) => {
  const other = detail.from === me ? detail.to : detail.from;
  entryFor(other);
  const state = detail.from === me ? "stored" : undefined;
  upsert(other, { ...detail, state });
  if (other !== active && detail.from !== me) setUnread(other, conversation(other).unread + 1);
});

connection.addEventListener("outgoing", ({ detail }) => {
  const { id, mid, ts, state, body, to } = detail;
  upsert(to, { id, mid, ts, state, body, from: me, to });
});

connection.addEventListener("receipt", ({ detail }) => {
  for (const conv of conversations.values()) {
    const item = conv.items.get(detail.mid);
    if (item) {
      item.state = "delivered";
      renderItem(item);
    }
  }
});

conversationsEl.addEventListener("click", (event) => {
  const li = event.target.closest("li[data-user]");
  if (li) select(li.dataset.user);
});

document.getElementById("back").addEventListener("click", () => {
  root.dataset.view = "list";
});

olderButton.addEventListener("click", () => {
  if (active) loadHistory(active, true);
});

bodyInput.addEventListener("input", () => {
  updateComposer();
  bodyInput.rows = Math.min(6, Math.max(1, bodyInput.value.split("\n").length));
});

bodyInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = bodyInput.value;
  if (!active || text.trim() === "") return;
  try {
    connection.send(active, text); // the "outgoing" event draws the bubble
  } catch {
    bodyInput.setCustomValidity("This message is too long (at most 4,096 bytes).");
    bodyInput.reportValidity();
    return;
  }
  bodyInput.setCustomValidity("");
  bodyInput.value = "";
  bodyInput.rows = 1;
  updateComposer();
  scrollToEnd();
});

window.addEventListener("online", () => connection.reconnectNow());

connection.start();
