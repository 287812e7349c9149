// Flow: the live message tail across the hive, and a compose box with @name completion.
import {$, boot, clock, completer, composer, el, stickyScroller, verb} from "./core.js";

const TAIL_MAX = 500;
const state = {messages: new Map(), agents: new Set()};
const tail = $("#tail");

function stateOf(m) {
  return m.dropped_at ? "dropped" : m.acked_at ? "acked" : m.delivered_at ? "delivered" : "sent";
}

function line(m) {
  return el("div", {class: "flow-line", dataset: {message: m.id}},
    clock(m.sent_at),
    el("span", {class: "route"}, el("span", {class: "who"}, m.sender), el("span", {class: "arrow"}, " → "),
      el("span", {class: "who"}, m.recipient)),
    el("span", {class: `chip ${stateOf(m)}`}, stateOf(m)),
    el("span", {class: "body", title: "click to expand", onclick: (e) => e.currentTarget.classList.toggle("open")}, m.body));
}

const nodes = new Map();  // message id → its line
const beforeChange = stickyScroller(tail);

function draw() {
  beforeChange();
  const ids = [...state.messages.keys()].sort((a, b) => a - b).slice(-TAIL_MAX);
  nodes.clear();
  tail.replaceChildren(...ids.map((id) => {
    const node = line(state.messages.get(id));
    nodes.set(id, node);
    return node;
  }));
}

function upsert(m) {
  beforeChange();
  state.messages.set(m.id, m);
  const node = line(m);
  const old = nodes.get(m.id);
  if (old) old.replaceWith(node);
  else tail.append(node);
  nodes.set(m.id, node);
  while (nodes.size > TAIL_MAX) {  // a long burst keeps the page as light as the snapshot
    const [oldest, first] = nodes.entries().next().value;
    nodes.delete(oldest);
    state.messages.delete(oldest);
    first.remove();
  }
}

function patch(ids, fields) {
  for (const id of ids) {
    const m = state.messages.get(id);
    if (m) upsert({...m, ...fields, delivered_at: m.delivered_at || fields.delivered_at || fields.acked_at});
  }
}

function load(snap) {
  state.messages = new Map(snap.messages.map((m) => [m.id, m]));
  state.agents = new Set(snap.agents);
  draw();
  requestAnimationFrame(() => { tail.scrollTop = tail.scrollHeight; });
}

// "@bob hello" → to bob; "@* hi" broadcasts.
function parse(text) {
  const match = /^@([\w*-]+)\s+([\s\S]+)$/.exec(text);
  if (!match) throw new Error("start with @name, then the message");
  return {to: match[1], body: match[2].trim()};
}

const textarea = $("#compose-text");
const names = () => [...state.agents].sort().concat(["manager", "*"]);
composer($("#compose"), textarea, async (text) => {
  const {to, body} = parse(text);
  await verb({cmd: "send", to, body});
  if (!textarea.value) textarea.value = `@${to} `;  // the next line usually goes to the same agent
  return true;
}, completer(textarea, $("#complete"), (sigil) => (sigil === "@" ? names() : [])));

boot({
  render: load,
  topics: {
    message: upsert,
    ack: (data) => patch(data.ids, {acked_at: data.acked_at}),
    delivered: (data) => patch(data.ids, {delivered_at: data.delivered_at}),
    mail: (data) => { if (data.kind === "mail_dropped") patch(data.payload.ids, {dropped_at: data.at, acked_at: data.at}); },
    status: (data) => { if (data.removed) state.agents.delete(data.name); else state.agents.add(data.row.name); },
  },
});
