// The swarm: every agent as a tree by parent, with its state and actions.
import {$, action, age, boot, el, fmtCost, fmtDuration, runButton} from "./core.js";

const state = {rows: new Map(), lastTurns: {}, actions: [], busy: new Set()};

function load(snap) {
  state.rows = new Map(snap.agents.map((row) => [row.name, row]));
  state.lastTurns = snap.last_turns || {};
  state.actions = snap.actions || [];
  draw();
}

// Which of the hive's actions fit this row now.
function actionsFor(row) {
  return state.actions.filter((a) => {
    if (!a.kinds.includes(row.kind)) return false;
    switch (a.name) {
      case "pause": return !row.paused;
      case "resume": return row.paused;
      case "start": return !row.running;
      case "stop": case "restart": case "kill": return row.running;
      case "interrupt": return row.activity === "thinking";
      case "revive": case "purge": return false;  // for kept state of destroyed agents, not live rows
      default: return true;
    }
  });
}

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
    type: "button", class: `small ${a.destructive ? "danger" : ""} ${state.busy.has(key) ? "busy" : ""}`,
    disabled: state.busy.has(key), dataset: {action: a.name},
  }, a.label);
  button.addEventListener("click", async () => {
    state.busy.add(key);
    await runButton(button, () => action(a.name, row.name), {
      confirm: a.destructive ? `${a.label} ${row.name}? This cannot be undone from here.` : null,
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

function draw() {
  const children = new Map();
  for (const row of state.rows.values()) {
    const parent = row.parent && state.rows.has(row.parent) ? row.parent : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(row);
  }
  const nodes = [];
  const walk = (parent, depth) => {
    for (const row of (children.get(parent) || []).sort((a, b) => a.name.localeCompare(b.name))) {
      nodes.push(rowNode(row, depth));
      if (depth < 8) walk(row.name, depth + 1);
    }
  };
  walk(null, 0);
  $("#swarm tbody").replaceChildren(...nodes);
  $("#swarm-empty").hidden = state.rows.size > 0;
}

boot({
  render: load,
  topics: {
    status: (data) => {
      if (data.removed) state.rows.delete(data.name);
      else state.rows.set(data.row.name, data.row);
      draw();
    },
    lastturn: (data) => { state.lastTurns[data.agent] = data.turn; draw(); },
  },
});
