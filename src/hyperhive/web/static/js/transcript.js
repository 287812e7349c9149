// An agent's live transcript: items from the server (web/transcript.py) drawn as DOM, oldest at the
// top; sticky to the bottom while the reader is there, an "N new" pill when they scrolled up, and
// older events loaded when they scroll to the top.
import {el, fmtCost, fmtCount, fmtDuration, getJSON} from "./core.js";

const NEAR = 48;

export class Transcript {
  constructor({pane, list, pill, status, agent, onItem}) {
    Object.assign(this, {pane, list, pill, status, agent, onItem});
    this.seen = new Set();
    this.tools = new Map();  // tool_use id → its node, so results nest under their call
    this.fresh = 0;
    this.hasMore = false;
    this.loading = false;
    this.stick = null;
    pane.addEventListener("scroll", () => this.scrolled());
    pill.addEventListener("click", () => this.toBottom());
  }

  load({events, has_more: hasMore}) {
    this.seen.clear();
    this.tools.clear();
    this.list.replaceChildren(...events.map((e) => this.eventNode(e)).filter(Boolean));
    this.hasMore = hasMore;
    this.oldest = events.length ? events[0].seq : null;
    this.status.textContent = hasMore ? "" : "start of the transcript";
    this.toBottom();
  }

  append(event) {
    // Whether the reader is at the bottom is read once per frame, before its first append, and the scroll
    // done once before paint: a burst of stream lines costs one layout, not one each.
    if (this.stick === null) {
      this.stick = this.atBottom();
      requestAnimationFrame(() => {
        if (this.stick) this.toBottom();
        this.stick = null;
      });
    }
    const node = this.eventNode(event);
    if (!node) return;
    this.list.append(node);
    if (this.oldest === null) this.oldest = event.seq;
    if (!this.stick) this.bump();
  }

  eventNode(event) {
    if (this.seen.has(event.seq)) return null;
    this.seen.add(event.seq);
    const nodes = [];
    for (const item of event.items || []) {
      if (this.onItem) this.onItem(item, event);
      const node = this.itemNode(item);
      if (node) nodes.push(node);
    }
    return nodes.length ? el("div", {class: "ev", dataset: {seq: event.seq, kind: event.kind}}, nodes) : null;
  }

  itemNode(item) {
    switch (item.type) {
      case "turn_start":
        return el("div", {class: "turn-start"},
          el("div", {class: "who"}, `▶ from ${item.from}`, item.id ? ` · #${item.id}` : "",
            item.unread ? el("span", {class: "muted"}, ` · ${item.unread} more waiting`) : null),
          el("div", {class: "msg"}, item.body));
      case "init":
        return el("div", {class: "meta"}, `session ${String(item.session_id || "").slice(0, 8)} · ${item.model || ""}`);
      case "text":
        return el("div", {class: "text"}, item.text);
      case "thinking":
        return el("details", {class: "thinking"}, el("summary", {}, "thinking"), el("div", {}, item.text));
      case "tool":
        return this.toolNode(item);
      case "result":
        return this.resultNode(item);
      case "final":
        return el("div", {class: `final ${item.is_error ? "bad" : ""}`},
          item.is_error ? `✗ ${item.subtype || "error"}: ${item.text}` : "result",
          item.num_turns ? ` · ${item.num_turns} turns` : "", item.duration_ms ? ` · ${fmtDuration(item.duration_ms)}` : "",
          item.cost_usd ? ` · ${fmtCost(item.cost_usd)}` : "");
      case "note":
        return el("div", {class: "note"}, item.text);
      case "turn_end":
        return el("div", {class: `turn-end ${item.ok ? "good" : "bad"}`},
          item.ok ? "■ turn done" : `✗ turn ${item.kind || "failed"}`, item.note ? `: ${item.note}` : "");
      case "stats":
        return el("div", {class: "meta"}, [fmtDuration(item.duration_ms),
          item.input_tokens !== null && item.input_tokens !== undefined
            ? `${fmtCount(item.input_tokens)} in / ${fmtCount(item.output_tokens)} out` : "",
          item.cache_read_tokens ? `${fmtCount(item.cache_read_tokens)} cached` : "",
          fmtCost(item.cost_usd), item.tool_calls ? `${item.tool_calls} tools` : ""].filter(Boolean).join(" · "));
      case "harness":
        return el("div", {class: "meta"}, `harness: ${item.text}`);
      case "event":
        return el("div", {class: `meta lifecycle ${item.bad ? "bad" : ""}`, dataset: {event: item.kind}}, `● ${item.text}`);
      default:
        return el("div", {class: "meta"}, `${item.kind || item.type}: ${item.text || ""}`);
    }
  }

  toolNode(item) {
    const input = el("pre", {class: "tool-input", hidden: true}, item.detail || "");
    const head = el("div", {class: "tool-head", title: "show the input", onclick: () => { input.hidden = !input.hidden; }},
      el("span", {class: "icon"}, "▸"), el("span", {class: "label"}, item.label));
    const out = el("div", {class: "tool-out"});
    const node = el("div", {class: "tool", dataset: {tool: item.name}}, head, input, out);
    if (item.id) this.tools.set(item.id, out);
    return node;
  }

  resultNode(item) {
    const cls = `result ${item.is_error ? "error" : ""}`;
    const mark = item.is_error ? el("span", {class: "badge bad"}, "error") : null;
    let node;
    if (item.long) {
      const first = item.text.split("\n", 1)[0].slice(0, 120);
      const lines = item.text.split("\n").length;
      node = el("details", {class: cls}, el("summary", {}, mark, ` ${first} `, el("span", {class: "muted"}, `(${lines} lines)`)),
        el("pre", {}, item.text));
    } else {
      node = el("div", {class: cls}, mark, el("pre", {}, item.text || "(no output)"));
    }
    const host = this.tools.get(item.tool_use_id);
    if (host) { host.append(node); return null; }
    return node;
  }

  // --- scrolling ---------------------------------------------------------------------------------
  atBottom() {
    return this.pane.scrollHeight - this.pane.scrollTop - this.pane.clientHeight < NEAR;
  }

  toBottom() {
    this.pane.scrollTop = this.pane.scrollHeight;
    this.fresh = 0;
    this.pill.hidden = true;
  }

  bump() {
    this.fresh += 1;
    this.pill.textContent = `${this.fresh} new ↓`;
    this.pill.hidden = false;
  }

  scrolled() {
    if (this.atBottom() && this.fresh) this.toBottom();
    if (this.pane.scrollTop < NEAR && this.hasMore && !this.loading) this.older();
  }

  async older() {
    this.loading = true;
    this.status.textContent = "loading older…";
    try {
      const page = await getJSON(`/agents/${this.agent}/transcript.json?before=${this.oldest}`);
      const height = this.pane.scrollHeight;
      const nodes = page.events.map((e) => this.eventNode(e)).filter(Boolean);
      this.list.prepend(...nodes);
      if (page.events.length) this.oldest = page.events[0].seq;
      this.hasMore = page.has_more;
      this.pane.scrollTop += this.pane.scrollHeight - height;  // keep the reader's place
      this.status.textContent = this.hasMore ? "" : "start of the transcript";
    } catch (err) {
      this.status.textContent = err.message;
    } finally {
      this.loading = false;
    }
  }
}
