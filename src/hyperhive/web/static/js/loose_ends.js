// An agent's loose ends (`loose_ends {agent}`): open questions it asked or was asked, pending reminders,
// approvals it asked for or that concern it, and schedules it created or receives. Each can be cancelled here.
import {buildLogNode, building} from "./buildlog.js";
import {age, countdown, el, runButton, verb} from "./core.js";

const at = (rfc) => (rfc ? Date.parse(rfc) / 1000 : null);

function cancelButton(what, request, confirm) {
  const button = el("button", {type: "button", class: "small quiet danger", dataset: {cancel: what}}, "cancel");
  button.addEventListener("click", () => runButton(button, () => verb(request), {confirm, done: `${what} cancelled`}));
  return button;
}

function question(q) {
  return el("div", {class: "mini", dataset: {question: q.id}},
    el("b", {}, `? #${q.id}`), ` ${q.asker} → ${q.target} `, age(q.asked_at), " ",
    q.expires_at ? countdown(q.expires_at) : null,
    el("div", {class: "body clamp"}, q.question),
    q.target === "operator" ? el("a", {href: "/call", class: "small"}, "answer on your call") : null,
    cancelButton(`question #${q.id}`, {cmd: "cancel_question", id: q.id}, `Cancel question #${q.id}? ${q.asker} gets “[cancelled]”.`));
}

function reminder(r) {
  return el("div", {class: "mini", dataset: {reminder: r.id}},
    el("b", {}, `⏰ #${r.id}`), " ", countdown(at(r.due_at), {prefix: "due in", past: "due"}),
    el("div", {class: "body clamp"}, r.body),
    cancelButton(`reminder #${r.id}`, {cmd: "cancel_reminder", id: r.id}, null));
}

function approval(a) {
  return el("div", {class: "mini", dataset: {approval: a.id}},
    el("b", {}, `✋ #${a.id} ${a.kind}`), ` for ${a.agent} `, age(a.requested_at), " ",
    el("span", {class: "badge warn"}, building(a) ? "building image" : a.status),
    a.description ? el("div", {class: "body clamp"}, a.description) : null,
    building(a) ? buildLogNode(a) : el("a", {href: "/call", class: "small"}, "decide on your call"));
}

function schedule(s) {
  return el("div", {class: "mini", dataset: {schedule: s.id}},
    el("b", {}, `↻ #${s.id}`), ` → ${s.targets.join(", ")} `, el("span", {class: "badge dim"}, s.status), " ",
    s.next_fire_at && s.status === "active" ? countdown(at(s.next_fire_at), {prefix: "fires in", past: "firing"}) : null,
    el("div", {class: "body clamp"}, s.description || s.body),
    el("a", {href: "/schedules", class: "small"}, "schedules"));
}

export function drawLooseEnds(container, ends) {
  const nodes = [
    ...(ends.questions || []).map(question), ...(ends.reminders || []).map(reminder),
    ...(ends.approvals || []).map(approval), ...(ends.schedules || []).map(schedule),
  ];
  container.replaceChildren(...(nodes.length ? nodes : [el("p", {class: "muted"}, "Nothing open.")]));
}
