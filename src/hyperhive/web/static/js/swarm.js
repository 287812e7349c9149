// The swarm: every agent as a tree by parent, with its state and actions.
import {
  $, NodeCache, action, age, boot, el, fittingActions, fmtCost, fmtDuration, perFrame, reconcile, runButton, verb,
} from "./core.js";

const state = {rows: new Map(), lastTurns: {}, actions: [], busy: new Set()};

function load(snap) {
  state.rows = new Map(snap.agents.map((row) => [row.name, row]));
  state.lastTurns = snap.last_turns || {};
  state.actions = snap.actions || [];
  draw();
}

const DESTROYED = "destroyed";
const actionsFor = (row) => fittingActions(state.actions, row);

function stateCell(row) {
  const cls = row.failed ? "bad" : row.running ? "good" : row.kind === "peer" ? "dim" : "warn";
  const flags = [row.paused && "paused", row.needs_login && "needs login", row.needs_update && "needs update"]
    .filter(Boolean);
  return el("td", {},
    el("span", {class: `badge ${cls}`}, row.state),
    row.activity ? el("span", {class: `activity ${row.activity}`, title: row.activity_detail || ""}, row.activity) : null,
    ...flags.map((f) => el("span", {class: "badge warn"}, f)));
}

function lastTurnCell(turn) {
  if (!turn) return el("td", {class: "muted"}, "—");
  if (turn.running) return el("td", {}, el("span", {class: "activity thinking"}, "running "), age(turn.started_at));
  return el("td", {title: turn.note || ""},
    el("span", {class: turn.ok ? "ok-mark" : "bad-mark"}, turn.ok ? "✓" : "✗"), " ", age(turn.ended_at || turn.started_at),
    turn.duration_ms ? el("span", {class: "muted"}, ` ${fmtDuration(turn.duration_ms)}`) : null,
    turn.cost_usd ? el("span", {class: "muted"}, ` ${fmtCost(turn.cost_usd)}`) : null);
}

function actionButton(row, a) {
  const key = `${row.name}:${a.name}`;
  const button = el("button", {
    type: "button", class: `small ${a.confirm ? "danger" : ""} ${state.busy.has(key) ? "busy" : ""}`,
    disabled: state.busy.has(key), dataset: {action: a.name},
  }, a.label);
  button.addEventListener("click", async () => {
    state.busy.add(key);
    await runButton(button, () => action(a.name, row.name), {
      confirm: a.confirm ? a.confirm.replace("{name}", row.name) : null,
      done: `${a.label}: ${row.name}`,
    });
    state.busy.delete(key);
    draw();
  });
  return button;
}

function rowNode(row, depth) {
  return el("tr", {dataset: {agent: row.name}},
    el("td", {class: "name", style: {paddingLeft: `${0.6 + depth * 1.2}rem`}},
      depth ? el("span", {class: "tree"}, "└ ") : null,
      el("a", {href: `/agents/${row.name}`}, row.name), " ",
      el("span", {class: `kind ${row.kind}`}, row.kind)),
    stateCell(row),
    el("td", {class: "status"}, row.status_text || "", row.status_set_at ? el("span", {class: "muted"}, " ", age(row.status_set_at)) : null),
    el("td", {class: "mono"}, row.active_model || ""),
    el("td", {class: "mono"}, row.deployed_sha ? row.deployed_sha.slice(0, 8) : ""),
    el("td", {class: `num ${row.unread ? "hot" : "muted"}`}, row.unread),
    el("td", {class: `num ${row.pending_approvals ? "hot" : "muted"}`}, row.pending_approvals),
    lastTurnCell(state.lastTurns[row.name]),
    el("td", {class: "actions"}, actionsFor(row).map((a) => actionButton(row, a))));
}

function tombstoneNode(row) {
  return el("tr", {dataset: {agent: row.name}},
    el("td", {class: "name"}, el("span", {class: "dead"}, row.name), " ", el("span", {class: "kind"}, row.kind)),
    el("td", {class: "muted"}, row.description || ""),
    el("td", {class: "mono muted"}, row.deployed_sha ? row.deployed_sha.slice(0, 8) : ""),
    el("td", {class: "muted"}, row.last_seen ? ["last seen ", age(row.last_seen)] : ""),
    el("td", {class: "actions"}, actionsFor(row).map((a) => actionButton(row, a))));
}

// Rows are kept by name and drawn anew only when what they show changed.
const rowNodes = new NodeCache(([row, depth]) => rowNode(row, depth));
const tombNodes = new NodeCache(tombstoneNode);
const version = (row, ...more) => JSON.stringify([row, ...more, [...state.busy].filter((k) => k.startsWith(`${row.name}:`))]);

function draw() {
  const living = [...state.rows.values()].filter((row) => row.state !== DESTROYED);
  const dead = [...state.rows.values()].filter((row) => row.state === DESTROYED);
  const names = new Set(living.map((row) => row.name));
  const children = new Map();
  for (const row of living) {
    const parent = row.parent && names.has(row.parent) ? row.parent : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(row);
  }
  const nodes = [];
  const walk = (parent, depth) => {
    for (const row of (children.get(parent) || []).sort((a, b) => a.name.localeCompare(b.name))) {
      nodes.push(rowNodes.get(row.name, [row, depth], version(row, depth, state.lastTurns[row.name])));
      if (depth < 8) walk(row.name, depth + 1);
    }
  };
  walk(null, 0);
  rowNodes.keep(names);
  reconcile($("#swarm tbody"), nodes);
  $("#swarm-empty").hidden = living.length > 0;
  drawNeedsLogin(living.filter((row) => row.needs_login));
  dead.sort((a, b) => a.name.localeCompare(b.name));
  tombNodes.keep(new Set(dead.map((row) => row.name)));
  reconcile($("#tombstones tbody"), dead.map((row) => tombNodes.get(row.name, row, version(row))));
  $("#tombstones").hidden = !dead.length;
}

// Agents whose Claude CLI needs a login stop working until someone runs the command: say it at the top.
function drawNeedsLogin(rows) {
  const box = $("#needs-login");
  box.hidden = !rows.length;
  box.replaceChildren(el("h2", {}, "needs login"), ...rows.map((row) => el("div", {dataset: {agent: row.name}},
    el("a", {href: `/agents/${row.name}`}, row.name), " waits for a Claude login: run ",
    el("code", {}, `hivectl login ${row.name}`))));
}

// A burst of status updates costs one redraw per frame.
const redraw = perFrame(draw);

boot({
  render: load,
  topics: {
    status: (data) => {
      if (data.removed) state.rows.delete(data.name);
      else state.rows.set(data.row.name, data.row);
      redraw();
    },
    lastturn: (data) => { state.lastTurns[data.agent] = data.turn; redraw(); },
  },
});

// The kill switch: one request pauses every agent and disarms every schedule; resume all undoes exactly that.
$("#pause-all").addEventListener("click", (e) => runButton(e.currentTarget, () => verb({cmd: "pause_all"}),
  {confirm: "Pause every agent and disarm every schedule?", done: "every agent and schedule paused"}));
$("#resume-all").addEventListener("click", (e) => runButton(e.currentTarget, () => verb({cmd: "resume_all"}),
  {done: "resumed what pause all paused"}));
