// An agent's harness log tail; refreshed on request (the log is a file, not a feed).
import {$, boot, getJSON, runButton} from "./core.js";

const path = location.pathname;
const draw = (snap) => {
  $("#log").textContent = snap.lines.join("\n") || "(empty)";
  window.scrollTo(0, document.body.scrollHeight);
};
boot({render: draw});
$("#refresh").addEventListener("click", (event) =>
  runButton(event.currentTarget, async () => draw(await getJSON(`${path}.json`))));
