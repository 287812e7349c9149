// An approval's image build, live: the log's tail from the snapshot (details.log_tail up to byte
// details.log_end), then the `imagebuild` updates appended by byte range, so nothing shows twice. One <pre>
// per approval, kept across redraws of its card (the your-call card, the agent page's loose end).
import {el} from "./core.js";

const MAX_LINES = 200;
const logs = new Map();  // approval id → {pre, end}
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function entry(id) {
  let known = logs.get(id);
  if (!known) {
    known = {pre: el("pre", {class: "buildlog", dataset: {buildlog: id}}), end: 0};
    logs.set(id, known);
  }
  return known;
}

function append(known, text, offset, end) {
  if (end <= known.end) return;
  if (offset < known.end) text = decoder.decode(encoder.encode(text).slice(known.end - offset));
  const pre = known.pre;
  const follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const lines = (pre.textContent + text).split("\n");
  pre.textContent = lines.slice(-MAX_LINES - 1).join("\n");
  known.end = end;
  if (follow) pre.scrollTop = pre.scrollHeight;
}

// The log node of a building approval, seeded from its snapshot details the first time.
export function buildLogNode(a) {
  const known = entry(a.id);
  const details = a.details || {};
  if (details.log_tail) append(known, details.log_tail, 0, details.log_end || 0);
  return known.pre;
}

export const building = (a) => (a.details || {}).image_build === "building";

// An `imagebuild` update: lines for a log (appended), or a build's start or end (the caller refreshes).
export function onBuildUpdate(update) {
  if (update.text !== undefined) append(entry(update.approval), update.text, update.offset, update.end);
  return Boolean(update.started || update.done);
}
