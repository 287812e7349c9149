// Shared by every page: DOM building, posts with the CSRF token, toasts, the confirm dialog, relative
// times, and the live stream (snapshot cursor → updates after it → reload when told).

export const $ = (sel, root = document) => root.querySelector(sel);

// el("a", {href: "/x", class: "c", onclick: fn}, "text", child) — text is always a text node (no HTML).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);  // CSSOM: allowed by the CSP, attributes are not
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Put exactly `nodes` in `container`, in order, without detaching the ones already there: a card the
// operator is typing into keeps its text and its focus while others come and go.
export function reconcile(container, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...container.children]) if (!wanted.has(child)) child.remove();
  nodes.forEach((node, i) => {
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
  });
}

// Nodes kept by key across redraws; `version` says when an item changed enough to be drawn anew.
export class NodeCache {
  constructor(make) { this.make = make; this.nodes = new Map(); }

  get(key, item, version = "") {
    const known = this.nodes.get(key);
    if (known && known.version === version) return known.node;
    const node = this.make(item);
    this.nodes.set(key, {node, version});
    return node;
  }

  keep(keys) {
    for (const key of [...this.nodes.keys()]) if (!keys.has(key)) this.nodes.delete(key);
  }
}

export function snapshot() {
  return JSON.parse($("#snapshot").textContent);
}

// --- talking to the hive -------------------------------------------------------------------------
export async function post(url, body) {
  const token = $('meta[name="csrf-token"]').content;
  const res = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"content-type": "application/json", "x-csrf-token": token},
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({ok: false, error: `the dashboard answered HTTP ${res.status}`}));
  if (!data.ok) throw new Error(data.error || "failed");
  return data;
}

export const verb = (request) => post("/api/verb", request);
export const action = (name, agent) => post("/api/action", {action: name, name: agent});

// A refresh that never overlaps itself: calls during a run coalesce into one more run after it, so an
// older response can never land after a newer one.
export function serial(fn) {
  let running = false;
  let again = false;
  return async () => {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await fn(); } while (again);
    } catch (err) {
      toast(err.message, "error");
    } finally {
      running = false;
    }
  };
}

export async function getJSON(url) {
  const res = await fetch(url, {credentials: "same-origin"});
  const data = await res.json().catch(() => ({ok: false, error: `HTTP ${res.status}`}));
  if (!data.ok) throw new Error(data.error || "failed");
  return data;
}

// Which of the hive's actions fit an agent's row now. A destroyed agent's only actions are revive and purge.
export function fittingActions(actions, row) {
  const dead = row.state === "destroyed";
  return actions.filter((a) => {
    if (!a.kinds.includes(row.kind)) return false;
    if (dead) return a.name === "revive" || a.name === "purge";
    switch (a.name) {
      case "pause": return !row.paused;
      case "resume": return row.paused;
      case "start": return !row.running;
      case "stop": case "restart": case "kill": return row.running;
      case "interrupt": return row.activity === "thinking";
      case "revive": case "purge": return false;
      default: return true;
    }
  });
}

// --- feedback ------------------------------------------------------------------------------------
export function toast(text, kind = "ok") {
  const node = el("div", {class: `toast ${kind}`, role: kind === "error" ? "alert" : "status"}, text);
  $("#toasts").append(node);
  setTimeout(() => node.remove(), kind === "error" ? 8000 : 3500);
}

export function confirmDialog(text, okLabel = "do it") {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true});
  });
}

// Run an operator action from a button: ask first if destructive, spinner in the button, then a toast.
// The row itself changes when the live update arrives, not here.
export async function runButton(button, fn, {confirm = null, done = null} = {}) {
  if (confirm && !(await confirmDialog(confirm))) return null;
  button.disabled = true;
  button.classList.add("busy");
  try {
    const result = await fn();
    if (done) toast(done);
    return result;
  } catch (err) {
    toast(err.message, "error");
    return null;
  } finally {
    button.disabled = false;
    button.classList.remove("busy");
  }
}

// A pane that stays at its bottom while things are appended, at one layout per frame however many arrive:
// whether the reader is at the bottom is read before the frame's first change, the scroll is done once,
// just before paint. Call the returned function before each change.
export function stickyScroller(pane, near = 40) {
  let stick = null;
  return () => {
    if (stick !== null) return;
    stick = pane.scrollHeight - pane.scrollTop - pane.clientHeight < near;
    requestAnimationFrame(() => {
      if (stick) pane.scrollTop = pane.scrollHeight;
      stick = null;
    });
  };
}

// Run `fn` once in the next frame however often this is called before it (a redraw after a burst).
export function perFrame(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; fn(); });
  };
}

// --- time ----------------------------------------------------------------------------------------
export function ago(when) {
  if (!when) return "";
  const ms = typeof when === "number" ? when * 1000 : Date.parse(when);
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// A span that keeps its age current (a local clock, not a request).
export function age(when) {
  return el("span", {class: "age", dataset: {at: typeof when === "number" ? String(when * 1000) : when || ""},
    title: when ? new Date(typeof when === "number" ? when * 1000 : when).toLocaleString() : ""}, ago(when));
}

function tickAges() {
  for (const node of document.querySelectorAll(".age[data-at]")) {
    const at = node.dataset.at;
    node.textContent = ago(/^\d+$/.test(at) ? Number(at) / 1000 : at);
  }
  for (const node of document.querySelectorAll(".expires[data-until]")) {
    node.textContent = untilText(Number(node.dataset.until), node.dataset.prefix, node.dataset.past);
  }
}

// HH:MM:SS in local time, for tails where the order matters more than the age. One formatter for all:
// toLocaleTimeString with options builds a new one per call (~0.15 ms, most of a flow line's cost).
const CLOCK = new Intl.DateTimeFormat([], {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});

export function clock(when) {
  const date = new Date(typeof when === "number" ? when * 1000 : when);
  return el("span", {class: "clock", title: date.toLocaleString()}, CLOCK.format(date));
}

// "expires in 4m" until a deadline (unix seconds); kept current by the same ticker as ages.
export function countdown(deadline, {prefix = "expires in", past = "expired"} = {}) {
  return el("span", {class: "expires", dataset: {until: String(deadline * 1000), prefix, past},
    title: new Date(deadline * 1000).toLocaleString()}, untilText(deadline * 1000, prefix, past));
}

function untilText(ms, prefix = "expires in", past = "expired") {
  const s = Math.round((ms - Date.now()) / 1000);
  return s <= 0 ? past : `${prefix} ${ago(Date.now() / 1000 - s)}`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 1000 ? `${Math.round(ms)}ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)}s` : `${(ms / 60000).toFixed(1)}m`;
}

export function fmtCount(n) {
  if (n === null || n === undefined) return "";
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export const fmtCost = (usd) => (usd === null || usd === undefined ? "" : `$${Number(usd).toFixed(usd < 1 ? 3 : 2)}`);

// --- the live stream -----------------------------------------------------------------------------
function parseCursor(text) {
  const at = (text || "").lastIndexOf(".");
  return at < 0 ? {epoch: "", seq: 0} : {epoch: text.slice(0, at), seq: Number(text.slice(at + 1))};
}

export class Live {
  // topics: {name: handler(data)}; reload(snapshot) redraws the page from a fresh snapshot.
  constructor({topics, agent = null, reload}) {
    this.topics = topics;
    this.agent = agent;
    this.reload = reload;
    this.source = null;
  }

  start(cursor) {
    this.close();
    this.cursor = parseCursor(cursor);
    const params = new URLSearchParams({topics: Object.keys(this.topics).join(","), after: cursor});
    if (this.agent) params.set("agent", this.agent);
    const source = new EventSource(`/api/stream?${params}`);
    this.source = source;
    for (const topic of Object.keys(this.topics)) {
      source.addEventListener(topic, (event) => this.deliver(topic, event));
    }
    source.addEventListener("reload", () => this.reloadSnapshot());
    source.onopen = () => setLive("on");
    source.onerror = () => {
      // CONNECTING: the browser retries by itself with Last-Event-ID. CLOSED: it gave up (e.g. 401).
      setLive(source.readyState === EventSource.CLOSED ? "off" : "retry");
      if (source.readyState === EventSource.CLOSED) setTimeout(() => this.reloadSnapshot(), 3000);
    };
  }

  deliver(topic, event) {
    const at = parseCursor(event.lastEventId);
    // A replayed update (same epoch, already applied) is skipped; updates are idempotent anyway.
    if (at.epoch === this.cursor.epoch && at.seq <= this.cursor.seq) return;
    this.cursor = at;
    window.hiveLastSeq = at.seq;  // for tests and the curious
    const data = JSON.parse(event.data);
    this.topics[topic](data);
    if (window.hiveApplied) window.hiveApplied(topic, data);  // a hook for latency measurements
  }

  async reloadSnapshot() {
    this.close();
    try {
      const snap = await getJSON(`${location.pathname}.json${location.search}`);
      this.reload(snap);
      this.start(snap.cursor);
    } catch (err) {
      setLive("off");
      if (/log in/.test(err.message)) location.assign("/login");
      else setTimeout(() => this.reloadSnapshot(), 5000);
    }
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
  }
}

function setLive(state) {
  const node = $("#live");
  if (node) node.className = `live ${state}`;
}

// --- page boot -----------------------------------------------------------------------------------
// What waits for the operator (approvals, open questions, unread mail), in the title and the tab badge.
function setCall(counts) {
  const {approvals = 0, questions = 0, unread = 0} = counts || {};
  const total = approvals + questions + unread;
  document.title = `${total ? `(${total}) ` : ""}${document.body.dataset.title} · hyperhive`;
  const badge = $("#call-count");
  if (!badge) return;
  badge.textContent = total;
  badge.hidden = !total;
  badge.title = [approvals && `${approvals} approval${approvals > 1 ? "s" : ""}`,
    questions && `${questions} question${questions > 1 ? "s" : ""}`, unread && `${unread} unread`]
    .filter(Boolean).join(" · ");
}

// What needs a human (a question, an approval, needs_login, failed, a spent budget, mail to the operator)
// as a browser notification, once the operator allowed them (asked on the first click on a page).
function notifyBrowser(update) {
  if (!("Notification" in window) || Notification.permission !== "granted" || !update.payload) return;
  const {title, body, kind} = update.payload;
  const shown = new Notification(title, {body, tag: `hive-${update.seq}`, data: {kind, agent: update.agent}});
  shown.onclick = () => { window.focus(); if (update.agent) location.assign(`/agents/${update.agent}`); };
}

function askForNotifications() {
  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", () => Notification.requestPermission(), {once: true});
  }
}

// Every page: the snapshot, the your-call count, ages, log out, notifications.
export function boot({topics = {}, agent = null, render}) {
  const snap = snapshot();
  const redraw = (s) => { setCall(s.call); render(s); };
  askForNotifications();
  const live = new Live({topics: {...topics, operator: setCall, notification: notifyBrowser}, agent,
    reload: redraw});
  redraw(snap);
  live.start(snap.cursor);
  setInterval(tickAges, 5000);
  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await post("/logout", {}).catch(() => null);
      location.assign("/login");
    });
  }
  window.hiveLive = live;  // for tests and the curious
  return live;
}

// --- @name completion, shared by the flow and agent composers --------------------------------------
export function completer(textarea, box, names) {
  let choices = [];
  let index = 0;
  const token = () => {
    const upto = textarea.value.slice(0, textarea.selectionStart);
    const match = /(^|\s)([@/])([\w*-]*)$/.exec(upto);
    return match ? {sigil: match[2], word: match[3], start: upto.length - match[3].length - 1} : null;
  };
  const hide = () => { box.hidden = true; choices = []; };
  const show = () => {
    const at = token();
    const all = at ? names(at.sigil) : [];
    choices = at ? all.filter((n) => n.startsWith(at.word) && n !== at.word).slice(0, 8) : [];
    if (!choices.length) return hide();
    index = Math.min(index, choices.length - 1);
    box.replaceChildren(...choices.map((name, i) => el("div", {
      class: i === index ? "on" : "", onmousedown: (e) => { e.preventDefault(); accept(name); },
    }, at.sigil + name)));
    box.hidden = false;
  };
  const accept = (name) => {
    const at = token();
    if (!at) return;
    const before = textarea.value.slice(0, at.start);
    const after = textarea.value.slice(textarea.selectionStart);
    textarea.value = `${before}${at.sigil}${name} ${after}`;
    const caret = before.length + name.length + 2;
    textarea.setSelectionRange(caret, caret);
    hide();
  };
  textarea.addEventListener("input", () => { index = 0; show(); });
  textarea.addEventListener("blur", hide);
  // Returns true when the key was used by the completion list.
  return (event) => {
    if (box.hidden || !choices.length) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      index = (index + (event.key === "ArrowDown" ? 1 : choices.length - 1)) % choices.length;
      show();
      return true;
    }
    if (event.key === "Tab" || event.key === "Enter") { accept(choices[index]); return true; }
    if (event.key === "Escape") { hide(); return true; }
    return false;
  };
}

// Enter sends, Shift+Enter is a new line; the completion list gets the key first.
export function composer(form, textarea, onSend, completion = () => false) {
  textarea.addEventListener("keydown", (event) => {
    if (completion(event)) { event.preventDefault(); return; }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = textarea.value.trim();
    if (!text) return;
    // Cleared at once, so the next line can be typed while this one is on its way; a failed send comes
    // back only into an empty box, never over what was typed since.
    textarea.value = "";
    const button = form.querySelector("button[type=submit]");
    const sent = await runButton(button, () => onSend(text));
    if (!sent && !textarea.value) textarea.value = text;
    textarea.focus();
  });
}
