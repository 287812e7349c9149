// Schedules: every scheduled prompt, live; create, edit, pause/resume, fire now, cancel.
import {$, NodeCache, age, boot, countdown, el, getJSON, reconcile, runButton, serial, verb} from "./core.js";

const OPEN = new Set(["awaiting_approval", "active", "paused"]);
const UNITS = [["once", 0], ["seconds", 1], ["minutes", 60], ["hours", 3600], ["days", 86400]];
const state = {schedules: new Map(), agents: []};
const seconds = (rfc) => (rfc ? Date.parse(rfc) / 1000 : null);

// <input type="datetime-local"> speaks local wall time without a zone.
function localInput(unix) {
  const d = new Date(unix * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function everyText(interval) {
  if (!interval) return "once";
  const [unit, size] = [...UNITS].reverse().find(([, n]) => n && interval % n === 0) || ["seconds", 1];
  const count = interval / size;
  return `every ${count === 1 ? "" : `${count} `}${count === 1 ? unit.replace(/s$/, "") : unit}`;
}

// --- the form, for creating and for editing --------------------------------------------------------
function scheduleForm(s, onSubmit, label) {
  const unit = s && s.interval_seconds ? [...UNITS].reverse().find(([, n]) => n && s.interval_seconds % n === 0) : UNITS[0];
  const fields = {
    targets: el("input", {type: "text", name: "targets", required: true, placeholder: "bob, amy (or *)",
      value: s ? s.targets.join(", ") : ""}),
    body: el("textarea", {name: "body", rows: 3, required: true, placeholder: "the prompt they receive"}),
    when: el("input", {type: "datetime-local", name: "when", required: true,
      value: localInput(s ? seconds(s.next_fire_at) || seconds(s.first_fire_at) : Date.now() / 1000 + 300)}),
    count: el("input", {type: "number", name: "count", min: 1, step: "any",
      value: s && s.interval_seconds ? s.interval_seconds / unit[1] : 1}),
    unit: el("select", {name: "unit"}, UNITS.map(([name]) => el("option", {value: name, selected: name === unit[0]}, name))),
    description: el("input", {type: "text", name: "description", placeholder: "what it is for (optional)",
      value: s ? s.description : ""}),
  };
  fields.body.value = s ? s.body : "";
  const submit = el("button", {type: "submit"}, label);
  const form = el("form", {class: "sched-form", autocomplete: "off"},
    el("label", {}, "to"), fields.targets, el("label", {}, "prompt"), fields.body,
    el("label", {}, s ? "next firing" : "first firing"), fields.when,
    el("label", {}, "repeat"), el("div", {class: "every"}, fields.count, fields.unit),
    el("label", {}, "description"), fields.description, el("div", {class: "row-end"}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const size = Object.fromEntries(UNITS)[fields.unit.value];
    const values = {
      targets: fields.targets.value.split(/[\s,]+/).filter(Boolean), body: fields.body.value.trim(),
      at: new Date(fields.when.value).getTime() / 1000, interval: size ? Number(fields.count.value) * size : null,
      description: fields.description.value.trim(),
    };
    await runButton(submit, () => onSubmit(values));
  });
  return form;
}

async function create(values) {
  const request = {cmd: "create_schedule", targets: values.targets, body: values.body, first_fire_at: values.at,
    description: values.description};
  if (values.interval) request.interval_seconds = values.interval;
  const {schedule} = await verb(request);
  upsert(schedule);
  $("#create-form").replaceChildren(scheduleForm(null, create, "create"));
}

// Only what changed is sent; an interval cannot be taken away (cancel and create a one-off instead).
function editor(s) {
  return async (values) => {
    const request = {cmd: "update_schedule", id: s.id};
    if (values.targets.join(",") !== s.targets.join(",")) request.targets = values.targets;
    if (values.body !== s.body) request.body = values.body;
    if (values.description !== s.description) request.description = values.description;
    if (Math.abs(values.at - (seconds(s.next_fire_at) || 0)) >= 60) request.next_fire_at = values.at;
    if (values.interval && values.interval !== s.interval_seconds) request.interval_seconds = values.interval;
    const {schedule} = await verb(request);
    editing.delete(s.id);
    upsert(schedule);
  };
}

// --- the list ---------------------------------------------------------------------------------------
const editing = new Set();

function button(label, request, {cls = "", confirm = null, done = null} = {}) {
  const node = el("button", {type: "button", class: `small ${cls}`, dataset: {do: label}}, label);
  node.addEventListener("click", async () => {
    const result = await runButton(node, () => verb(request), {confirm, done});
    if (result && result.schedule) upsert(result.schedule);
  });
  return node;
}

function when(s) {
  if (s.status === "active" && s.next_fire_at) return countdown(seconds(s.next_fire_at), {prefix: "fires in", past: "firing"});
  if (s.status === "paused") return el("span", {class: "muted"}, "paused");
  return null;
}

function scheduleNode(s) {
  const open = OPEN.has(s.status);
  const buttons = [];
  if (open) {
    const edit = el("button", {type: "button", class: "small", dataset: {do: "edit"}}, "edit");
    edit.addEventListener("click", () => { if (editing.has(s.id)) editing.delete(s.id); else editing.add(s.id); draw(); });
    buttons.push(edit);
  }
  if (s.status === "active") buttons.push(button("pause", {cmd: "set_schedule_paused", id: s.id, paused: true}, {done: `#${s.id} paused`}));
  if (s.status === "paused") buttons.push(button("resume", {cmd: "set_schedule_paused", id: s.id, paused: false}, {done: `#${s.id} resumed`}));
  if (s.status === "active" || s.status === "paused") {
    buttons.push(button("fire now", {cmd: "fire_schedule", id: s.id}, {done: `#${s.id} fired`}));
  }
  if (open) {
    buttons.push(button("cancel", {cmd: "cancel_schedule", id: s.id}, {cls: "danger",
      confirm: `Cancel schedule #${s.id}? ${s.targets.join(", ")} stop receiving it.`, done: `#${s.id} cancelled`}));
  }
  const badge = {active: "good", paused: "warn", awaiting_approval: "warn"}[s.status] || "dim";
  return el("article", {class: "schedule", dataset: {schedule: s.id}},
    el("header", {},
      el("b", {}, `#${s.id}`), el("span", {}, s.description || "(no description)"),
      el("span", {class: `badge ${badge}`}, s.status.replace("_", " ")),
      s.status === "awaiting_approval" && s.approval_id ? el("a", {href: "/call"}, `approval #${s.approval_id}`) : null),
    el("div", {class: "muted"}, `→ ${s.targets.join(", ")} · ${everyText(s.interval_seconds)} · by ${s.created_by} · `,
      s.fire_count ? `fired ${s.fire_count === 1 ? "once" : `${s.fire_count} times`}` : "not fired yet", s.last_fired_at ? [" (last ", age(s.last_fired_at), " ago)"] : "", " ", when(s)),
    el("div", {class: "body"}, s.body),
    el("div", {class: "row"}, buttons),
    editing.has(s.id) ? scheduleForm(s, editor(s), "save") : null);
}

const nodes = new NodeCache(scheduleNode);

function draw() {
  const all = [...state.schedules.values()].sort((a, b) => b.id - a.id);
  const open = all.filter((s) => OPEN.has(s.status));
  const closed = all.filter((s) => !OPEN.has(s.status));
  const version = (s) => `${JSON.stringify(s)}:${editing.has(s.id)}`;  // an open editor is a different node
  nodes.keep(new Set(all.map((s) => s.id)));
  reconcile($("#schedules-open"), open.length ? open.map((s) => nodes.get(s.id, s, version(s)))
    : [el("p", {class: "muted"}, "No open schedules.")]);
  $("#schedules-closed .list").replaceChildren(...closed.map((s) => nodes.get(s.id, s, version(s))));
  $("#schedules-closed").hidden = !closed.length;
  $("#schedules-count").textContent = open.length ? `${open.length} open` : "";
}

function upsert(s) {
  state.schedules.set(s.id, s);
  draw();
}

function load(snap) {
  state.schedules = new Map(snap.schedules.map((s) => [s.id, s]));
  state.agents = snap.agents;
  draw();
}

$("#create-form").replaceChildren(scheduleForm(null, create, "create"));

// An agent's request stores its schedule without a schedule_updated event: its approval announces it.
// Only schedules not known yet are taken; known ones are kept current by their own events.
const refresh = serial(async () => {
  for (const s of (await getJSON("/schedules.json")).schedules) if (!state.schedules.has(s.id)) state.schedules.set(s.id, s);
  draw();
});

// A `schedule` update is the stored schedule_updated event; its payload is the schedule.
boot({render: load, topics: {
  schedule: (event) => upsert(event.payload),
  approval: (event) => { if (event.payload.kind === "schedule_prompt") refresh(); },
}});
