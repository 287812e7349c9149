// Your call: questions and approvals waiting for the operator, and the operator's inbox with replies.
import {buildLogNode, building, onBuildUpdate} from "./buildlog.js";
import {$, NodeCache, age, boot, countdown, el, getJSON, reconcile, runButton, serial, verb} from "./core.js";

const AGENT_NAME = /^[a-z][a-z0-9-]{0,8}$/;
const state = {approvals: [], questions: [], inbox: new Map()};

function load(snap) {
  state.approvals = snap.approvals;
  state.questions = snap.questions;
  state.inbox = new Map(snap.inbox.map((m) => [m.id, m]));
  drawQuestions();
  drawApprovals();
  drawInbox();
}

// --- questions -----------------------------------------------------------------------------------
function questionCard(q) {
  const answer = (text) => verb({cmd: "answer", id: q.id, answer: text});
  const free = el("input", {type: "text", placeholder: "your answer", class: "note"});
  const send = el("button", {type: "button"}, "answer");
  const options = el("div", {class: "options"});
  for (const option of q.options || []) {
    if (q.multi) {
      options.append(el("label", {}, el("input", {type: "checkbox", value: option}), option));
    } else {
      const pick = el("button", {type: "button", class: "small"}, option);
      pick.addEventListener("click", () => runButton(pick, () => answer(option), {done: `answered #${q.id}`}));
      options.append(pick);
    }
  }
  send.addEventListener("click", () => {
    const ticked = [...options.querySelectorAll("input:checked")].map((box) => box.value);
    const text = [...ticked, free.value.trim()].filter(Boolean).join(", ");
    if (text) runButton(send, () => answer(text), {done: `answered #${q.id}`});
  });
  return el("article", {class: "card question", dataset: {question: q.id}},
    el("header", {}, el("b", {}, q.asker), " asks · ", age(q.asked_at), " ago · ", q.expires_at ? countdown(q.expires_at) : null),
    el("p", {}, q.question), options, el("div", {class: "row"}, free, send));
}

const questionCards = new NodeCache(questionCard);

function drawQuestions() {
  const open = state.questions;
  $("#questions").hidden = !open.length;
  questionCards.keep(new Set(open.map((q) => q.id)));
  reconcile($("#questions-list"), open.map((q) => questionCards.get(q.id, q)));
}

// --- approvals -----------------------------------------------------------------------------------
function diffNode(diff) {
  if (!diff) return null;
  const lines = String(diff).split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : "";
    return el("span", {class: cls}, `${line}\n`);
  });
  return el("pre", {class: "diff"}, lines);
}

// What a non-config approval carries (a scheduled prompt: when, to whom, what it will say).
function detailsNode(details) {
  if (!details || (!details.summary && !details.body)) return null;
  return el("div", {class: "details"}, details.summary ? el("p", {class: "muted"}, details.summary) : null,
    details.body ? el("blockquote", {}, details.body) : null);
}

// A change whose image is still being built: stored, but not yet to decide (no buttons), its log live.
function buildingCard(a) {
  return el("article", {class: "card building", dataset: {approval: a.id}},
    el("header", {}, el("b", {}, `#${a.id} ${a.kind}`), " for ", el("a", {href: `/agents/${a.agent}`}, a.agent),
      " ", age(a.requested_at), " ", el("span", {class: "badge warn"}, "building image")),
    a.description ? el("p", {}, a.description) : null,
    el("p", {class: "muted"}, "Its image is being built; the card can be decided once it is."),
    buildLogNode(a));
}

function builtLine(details) {
  return details && details.image_build === "built"
    ? el("p", {class: "built"}, `image built: ${details.image_size_mb} MB on disk beyond the base (${details.packages})`) : null;
}

// A tool_use card (a permission prompt, issue 21): the exact call, and the message the turn handles.
function toolUseNode(a) {
  if (a.kind !== "tool_use") return null;
  const d = a.details || {};
  return el("div", {class: "details tool-use"},
    el("p", {class: "muted"}, `${d.tool} (rule ${d.rule})`, d.message_id ? ` · handling message #${d.message_id}` : "",
      d.message_from ? ` from ${d.message_from}` : ""),
    el("pre", {class: "mono tool-input"}, JSON.stringify(d.input, null, 2)));
}

function alwaysButton(a) {
  if (a.kind !== "tool_use") return null;
  const always = el("button", {type: "button", class: "small"}, "allow from now on");
  always.addEventListener("click", () => runButton(always, () => verb({cmd: "approve_always", id: a.id}),
    {confirm: `Approve #${a.id} and propose "${a.details.rule}" as an allow rule for ${a.agent}?`,
     done: `approved #${a.id}; allow rule proposed`}));
  return always;
}

function approvalCard(a) {
  if (building(a)) return buildingCard(a);
  const note = el("input", {type: "text", class: "note",
    placeholder: a.kind === "tool_use" ? "why not (the agent reads it)" : "note for the manager (optional)"});
  const approve = el("button", {type: "button", class: "good"}, "approve");
  const deny = el("button", {type: "button", class: "danger"}, "deny");
  approve.addEventListener("click", () => runButton(approve, () => verb({cmd: "approve", id: a.id}),
    {done: `approved #${a.id}`}));
  deny.addEventListener("click", () => runButton(deny, () => verb({cmd: "deny", id: a.id, ...(note.value ? {note: note.value} : {})}),
    {confirm: `Deny #${a.id} (${a.kind} for ${a.agent})?`, done: `denied #${a.id}`}));
  return el("article", {class: "card", dataset: {approval: a.id}},
    el("header", {}, el("b", {}, `#${a.id} ${a.kind}`), " for ", el("a", {href: `/agents/${a.agent}`}, a.agent),
      " ", age(a.requested_at), a.commit_ref ? el("span", {class: "mono muted"}, ` ${a.commit_ref}`) : null),
    a.description ? el("p", {}, a.description) : null,
    a.kind === "tool_use" ? toolUseNode(a) : detailsNode(a.details),
    builtLine(a.details),
    diffNode(a.diff),
    el("div", {class: "row"}, approve, alwaysButton(a), note, deny));
}

const approvalCards = new NodeCache(approvalCard);

function drawApprovals() {
  const pending = $("#approvals-pending");
  const history = $("#approvals-history .list");
  const open = state.approvals.filter((a) => a.status === "pending");
  approvalCards.keep(new Set(open.map((a) => a.id)));
  reconcile(pending, open.length ? open.map((a) => approvalCards.get(a.id, a, a.details.image_build || ""))
    : [el("p", {class: "muted"}, "Nothing waits for you.")]);
  history.replaceChildren(...state.approvals.filter((a) => a.status !== "pending").map((a) =>
    el("div", {class: "line"}, el("span", {class: `badge ${a.status === "approved" ? "good" : "warn"}`}, a.status),
      ` #${a.id} ${a.kind} for ${a.agent} `, age(a.resolved_at || a.requested_at),
      a.note ? el("span", {class: "muted"}, ` — ${a.note}`) : null)));
}

// Approvals and questions change rarely: on their event the page re-reads them (the inbox stays as it is).
const refreshCards = serial(async () => {
  const snap = await getJSON("/call.json");
  state.approvals = snap.approvals;
  state.questions = snap.questions;
  drawApprovals();
  drawQuestions();
});

// --- inbox ---------------------------------------------------------------------------------------
function replyBox(message, host) {
  const text = el("textarea", {rows: 2, placeholder: `reply to ${message.sender}`});
  const send = el("button", {type: "submit"}, "send");
  const form = el("form", {class: "reply"}, text, send);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) return;
    const sent = await runButton(send, () => verb({cmd: "send", to: message.sender, body: text.value.trim(), in_reply_to: message.id}),
      {done: `sent to ${message.sender}`});
    if (sent) form.remove();
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  host.append(form);
  text.focus();
}

function inboxItem(m) {
  const unread = !m.acked_at;
  const item = el("article", {class: `message ${unread ? "unread" : ""}`, dataset: {message: m.id}},
    el("header", {}, el("b", {}, m.sender), " ", age(m.sent_at), m.in_reply_to ? el("span", {class: "muted"}, ` ↩ #${m.in_reply_to}`) : null),
    el("div", {class: "body"}, m.body));
  const buttons = el("div", {class: "row"});
  if (unread) {
    const read = el("button", {type: "button", class: "small quiet"}, "mark read");
    read.addEventListener("click", () => runButton(read, () => verb({cmd: "ack", ids: [m.id]})));
    buttons.append(read);
  }
  if (AGENT_NAME.test(m.sender)) {
    const reply = el("button", {type: "button", class: "small"}, "reply");
    reply.addEventListener("click", () => { if (!item.querySelector("form")) replyBox(m, item); });
    buttons.append(reply);
  }
  item.append(buttons);
  return item;
}

const inboxItems = new NodeCache(inboxItem);

function drawInbox() {
  const messages = [...state.inbox.values()].sort((a, b) => b.id - a.id);
  const unread = messages.filter((m) => !m.acked_at).length;
  $("#inbox-unread").textContent = unread ? `${unread} unread` : "";
  inboxItems.keep(new Set(messages.map((m) => m.id)));
  const nodes = messages.map((m) => {
    const before = inboxItems.nodes.get(m.id);
    const node = inboxItems.get(m.id, m, m.acked_at ? "read" : "unread");
    const reply = before && before.node !== node && before.node.querySelector("form.reply");
    if (reply) node.append(reply);  // a reply being written survives its message being marked read
    return node;
  });
  reconcile($("#inbox-list"), messages.length ? nodes : [el("p", {class: "muted"}, "No mail.")]);
}

$("#ack-all").addEventListener("click", (event) => {
  const ids = [...state.inbox.values()].filter((m) => !m.acked_at).map((m) => m.id);
  if (ids.length) runButton(event.currentTarget, () => verb({cmd: "ack", ids}), {done: `${ids.length} marked read`});
});

boot({
  render: load,
  topics: {
    message: (m) => { if (m.recipient === "operator") { state.inbox.set(m.id, m); drawInbox(); } },
    ack: (data) => {
      if (data.recipient !== "operator") return;
      for (const id of data.ids) { const m = state.inbox.get(id); if (m) state.inbox.set(id, {...m, acked_at: data.acked_at}); }
      drawInbox();
    },
    approval: () => refreshCards(),
    imagebuild: (update) => { if (onBuildUpdate(update)) refreshCards(); },
    question: () => refreshCards(),
  },
});
