// One agent: its head (state, controls), live transcript, composer with slash commands, todos, inbox, stats.
import {
  $, action, age, boot, completer, composer, el, fittingActions, fmtCost, fmtCount, fmtDuration, getJSON, runButton, serial, verb,
} from "./core.js";
import {onBuildUpdate} from "./buildlog.js";
import {drawLooseEnds} from "./loose_ends.js";
import {Transcript} from "./transcript.js";

const name = decodeURIComponent(location.pathname.split("/")[2]);
const state = {row: null, actions: [], inbox: new Map(), todos: null};

// --- head ----------------------------------------------------------------------------------------
function control(label, fn, {cls = "", confirm = null, done = null} = {}) {
  const button = el("button", {type: "button", class: `small ${cls}`, dataset: {control: label}}, label);
  button.addEventListener("click", () => runButton(button, fn, {confirm, done}));
  return button;
}

function drawHead() {
  const row = state.row;
  const cls = row.failed ? "bad" : row.running ? "good" : "warn";
  const buttons = fittingActions(state.actions, row).map((a) => control(a.label, () => action(a.name, name), {
    cls: a.confirm || a.name === "interrupt" ? "danger" : "",
    confirm: a.confirm ? a.confirm.replace("{name}", name) : null, done: `${a.label}: ${name}`}));
  $("#head").replaceChildren(
    el("div", {class: "title"},
      el("h1", {}, name), el("span", {class: `kind ${row.kind}`}, row.kind),
      el("span", {class: `badge ${cls}`}, row.state),
      row.activity ? el("span", {class: `activity ${row.activity}`, id: "activity", title: row.activity_detail || ""}, row.activity) : null,
      row.paused ? el("span", {class: "badge warn"}, "paused") : null,
      row.needs_login ? el("span", {class: "badge bad"}, "needs login") : null,
      row.budget_exhausted ? el("span", {class: "badge bad", id: "budget-badge"}, "budget exhausted") : null,
      row.turn_cost_usd != null ? el("span", {class: "mono muted", id: "turn-cost", title: "cost of the running turn"},
        `turn $${row.turn_cost_usd.toFixed(4)}`) : null,
      el("span", {class: "mono muted"}, row.active_model || "default model"),
      row.deployed_sha ? el("span", {class: "mono muted"}, row.deployed_sha.slice(0, 8)) : null,
      row.needs_update ? el("span", {class: "badge warn", id: "needs-update", title: "a restart would run something newer"}, "needs update") : null,
      contextChip(row),
      el("span", {class: "spacer"}),
      ...buttons,
      el("a", {href: `/agents/${name}/logs`, class: "small"}, "logs")),
    row.needs_login ? el("div", {class: "needs-login", id: "login-hint"}, "The Claude CLI needs a login: run ",
      el("code", {}, `hivectl login ${name}`), " (it picks the credentials up by itself)") : null,
    el("div", {class: "status"}, row.status_text ? [row.status_text, " ", el("span", {class: "muted"}, age(row.status_set_at))]
      : el("span", {class: "muted"}, "no status"), row.description ? el("span", {class: "muted"}, ` — ${row.description}`) : null));
}

// The last turn's prompt against the model's window, and what the last 24 hours of turns cost.
function contextChip(row) {
  if (row.context_tokens == null) return null;
  const share = row.context_window ? ` (${Math.round(100 * row.context_tokens / row.context_window)} %)` : "";
  const window = row.context_window ? ` / ${fmtCount(row.context_window)}` : "";
  return el("span", {class: "mono muted", id: "context", title: "context after the last turn; cost of the last 24 h"},
    `ctx ${fmtCount(row.context_tokens)}${window}${share} · ${fmtCost(row.cost_usd_24h || 0)} 24h`);
}

// --- side panels ---------------------------------------------------------------------------------
function drawTodos() {
  const todos = state.todos;
  if (!todos || !todos.length) return $("#todos").replaceChildren(el("p", {class: "muted"}, "No todo list."));
  const mark = {completed: "✓", in_progress: "▸", pending: "○"};
  $("#todos").replaceChildren(el("ul", {class: "todos"}, todos.map((t) => el("li", {class: t.status},
    el("span", {class: "mark"}, mark[t.status] || "·"), " ", t.status === "in_progress" && t.activeForm ? t.activeForm : t.content))));
}

// agent.toml's [tools]: Claude Code permission rules, allowed without asking and always refused.
function drawTools(tools) {
  if (!tools) return $("#tools").replaceChildren(el("p", {class: "muted"}, "No agent.toml: the CLI's defaults."));
  const rules = (list, cls) => (list.length ? list.map((r) => el("code", {class: `rule ${cls}`}, r))
    : [el("span", {class: "muted"}, "none")]);
  $("#tools").replaceChildren(
    el("div", {dataset: {rules: "allow"}}, el("span", {class: "muted"}, tools.default ? "allow (default) " : "allow "),
      ...rules(tools.allow, "allow")),
    el("div", {dataset: {rules: "deny"}}, el("span", {class: "muted"}, "deny "), ...rules(tools.deny, "deny")));
}

function drawInbox() {
  const messages = [...state.inbox.values()].sort((a, b) => b.id - a.id).slice(0, 30);
  $("#agent-inbox").replaceChildren(...(messages.length ? messages.map((m) =>
    el("div", {class: `mini ${m.acked_at ? "" : "unread"}`, dataset: {message: m.id}},
      el("b", {}, m.sender), " ", age(m.sent_at), " ",
      el("span", {class: `chip ${m.acked_at ? "acked" : m.delivered_at ? "delivered" : "sent"}`}, m.acked_at ? "acked" : m.delivered_at ? "delivered" : "sent"),
      el("div", {class: "body clamp"}, m.body))) : [el("p", {class: "muted"}, "Empty.")]));
}

function drawStats(stats) {
  const windows = ["24h", "7d", "30d"];
  const rows = [
    ["turns", (w) => w.turns], ["failed", (w) => w.failed], ["per hour", (w) => w.turns_per_hour],
    ["p50", (w) => fmtDuration(w.p50_ms)], ["p95", (w) => fmtDuration(w.p95_ms)],
    ["tokens in", (w) => fmtCount(w.input_tokens)], ["tokens out", (w) => fmtCount(w.output_tokens)],
    ["cache read", (w) => fmtCount(w.cache_read_tokens)], ["cost", (w) => fmtCost(w.cost_usd)],
    ["tool calls", (w) => w.tool_calls],
    ["top tools", (w) => w.top_tools.map(([tool, n]) => `${tool.replace("mcp__hyperhive__", "")} ${n}`).join(", ")],
  ];
  $("#stats").replaceChildren(el("table", {class: "stats"},
    el("tr", {}, el("th", {}), windows.map((w) => el("th", {}, w))),
    rows.map(([label, get]) => el("tr", {}, el("td", {class: "muted"}, label), windows.map((w) => el("td", {}, get(stats[w])))))));
}

// After a turn's stats arrive; a burst of turns costs one request more, not one each.
const refreshStats = serial(async () => drawStats(await getJSON(`/agents/${name}/stats.json`)));

// Questions, approvals and schedules announce themselves by event; reminders show in the row's count.
const refreshLooseEnds = serial(async () => {
  drawLooseEnds($("#loose-ends"), (await verb({cmd: "loose_ends", agent: name})).loose_ends);
});

// --- model picker: the deployed config's `available_models` when it names some, else free text -------
function drawModels(models) {
  const select = $("#model-select");
  const input = $("#model-input");
  const fixed = models.available && models.available.length;
  select.hidden = !fixed;
  input.hidden = Boolean(fixed);
  input.required = !fixed;
  select.replaceChildren(...(models.available || []).map((m) => el("option", {value: m}, m)));
  $("#model-choices").replaceChildren(...(models.suggested || []).map((m) => el("option", {value: m})));
  $("#model-note").textContent = models.configured ? `agent.toml: ${models.configured}` : "";
}

$("#model-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const select = $("#model-select");
  const input = $("#model-input");
  const model = (select.hidden ? input.value : select.value).trim();
  if (!model) return;
  const done = await runButton(event.submitter || $("#model-form button"), () => verb({cmd: "set_model", name, model}),
    {done: `${name} now runs on ${model}`});
  if (done) input.value = "";
});

// --- transcript and composer ---------------------------------------------------------------------
const transcript = new Transcript({
  pane: $("#transcript"), list: $("#items"), pill: $("#new-pill"), status: $("#backfill"), agent: name,
  onItem: (item) => {
    if (item.todos) { state.todos = item.todos; drawTodos(); }
  },
});

const SLASH = {
  cancel: () => verb({cmd: "interrupt", name}),
  model: (arg) => {
    if (!arg) throw new Error("/model needs a model name, e.g. /model claude-sonnet-4-5");
    return verb({cmd: "set_model", name, model: arg});
  },
  "new-session": () => verb({cmd: "new_session", name}),
  compact: () => verb({cmd: "compact", name}),
  pause: () => verb({cmd: "set_paused", name, paused: true}),
  resume: () => verb({cmd: "set_paused", name, paused: false}),
};

async function send(text) {
  const slash = /^\/([\w-]+)\s*([\s\S]*)$/.exec(text);
  if (slash) {
    const run = SLASH[slash[1]];
    if (!run) throw new Error(`unknown command /${slash[1]}: try ${Object.keys(SLASH).map((k) => `/${k}`).join(" ")}`);
    await run(slash[2].trim());
    return true;
  }
  await verb({cmd: "send", to: name, body: text});
  return true;
}

const textarea = $("#compose-text");
composer($("#compose"), textarea, send,
  completer(textarea, $("#complete"), (sigil) => (sigil === "/" ? Object.keys(SLASH) : [])));

function load(snap) {
  state.row = snap.row;
  state.actions = snap.actions || [];
  state.inbox = new Map(snap.inbox.map((m) => [m.id, m]));
  state.todos = snap.todos;
  drawHead();
  drawModels(snap.models);
  drawTools(snap.tools);
  drawLooseEnds($("#loose-ends"), snap.loose_ends);
  drawInbox();
  drawStats(snap.stats);
  transcript.load(snap.transcript);
  drawTodos();  // after the transcript, whose items may have carried a newer list
}

function patchInbox(ids, fields) {
  let changed = false;
  for (const id of ids) {
    const m = state.inbox.get(id);
    if (m) { state.inbox.set(id, {...m, ...fields}); changed = true; }
  }
  if (changed) drawInbox();
}

boot({
  agent: name,
  render: load,
  topics: {
    status: (data) => {
      const before = state.row;
      if (data.removed) state.row = {...state.row, state: "removed", running: false};
      else if (data.row.name === name) state.row = data.row;
      drawHead();
      if (before.pending_reminders !== state.row.pending_reminders
          || before.pending_approvals !== state.row.pending_approvals) refreshLooseEnds();
    },
    question: () => refreshLooseEnds(),
    approval: () => refreshLooseEnds(),
    imagebuild: (update) => { if (onBuildUpdate(update)) refreshLooseEnds(); },
    schedule: () => refreshLooseEnds(),
    turn: (event) => {
      if (event.agent !== name) return;
      transcript.append(event);
      if (event.kind === "turn.turn_stats") refreshStats();
    },
    message: (m) => { if (m.recipient === name) { state.inbox.set(m.id, m); drawInbox(); } },
    ack: (data) => { if (data.recipient === name) patchInbox(data.ids, {acked_at: data.acked_at}); },
    delivered: (data) => patchInbox(data.ids, {delivered_at: data.delivered_at}),
  },
});
