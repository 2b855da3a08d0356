// The task list: newest first, a page at a time (Vidu's GET /ent/v2/tasks), each unfinished task followed
// live over the event stream, a cancel button while it is queued or running, the player once it succeeded.

import { call } from "./api.js";
import { curlCommand, requestFromListItem } from "./curl.js";
import { showCreations } from "./player.js";
import { followTask } from "./sse.js";

const PAGE_SIZE = 8;
// a browser opens about six connections to one server; streams past this many would starve the other calls
const MAX_STREAMS = 4;
// tasks beyond MAX_STREAMS are refreshed with the page at this interval
const POLL_MS = 5000;
const RETRY_MS = 2000;
const REQUESTS_KEY = "framecast.requests";

// Vidu's list states -> the canonical words the event stream uses
function stateOf(item) {
  if (item.state === "failed" && item.err_code === "UserCancelled") return "cancelled";
  return (
    { created: "queued", queueing: "queued", processing: "running", success: "succeeded" }[item.state] ||
    item.state
  );
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
// how far along a state is: a row never steps back (the list can lag the stream by a poll)
const RANK = { "": 0, queued: 1, running: 2 };
const rank = (state) => RANK[state] ?? 3;

/** What this tab sent for each task it created (without image bytes), for the curl view. */
export function rememberRequest(taskId, request) {
  const all = JSON.parse(sessionStorage.getItem(REQUESTS_KEY) || "{}");
  all[taskId] = request;
  sessionStorage.setItem(REQUESTS_KEY, JSON.stringify(all));
}

function rememberedRequest(taskId) {
  return JSON.parse(sessionStorage.getItem(REQUESTS_KEY) || "{}")[taskId] || null;
}

export class TaskList {
  /** @param {{onUnauthorized: (err: Error) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.list = document.getElementById("task-list");
    this.error = document.getElementById("tasks-error");
    this.template = document.getElementById("task-template");
    this.newer = document.getElementById("newer");
    this.older = document.getElementById("older");
    this.pageLabel = document.getElementById("page-label");
    this.tokens = [""]; // page tokens: tokens[i] fetches page i
    this.page = 0;
    this.rows = new Map(); // task id -> {li, state, item}
    this.streams = new Map(); // task id -> AbortController
    this.timer = null;
    this.newer.addEventListener("click", () => this.show(this.page - 1));
    this.older.addEventListener("click", () => this.show(this.page + 1));
    document.getElementById("refresh").addEventListener("click", () => this.show(this.page));
  }

  start() {
    this.show(0);
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.stopStreams();
    this.rows.clear();
    this.list.replaceChildren();
    this.tokens = [""];
    this.page = 0;
  }

  stopStreams() {
    for (const ctrl of this.streams.values()) ctrl.abort();
    this.streams.clear();
  }

  async show(page) {
    try {
      const body = await call(
        `/ent/v2/tasks?pager.pagesz=${PAGE_SIZE}&pager.page_token=${encodeURIComponent(this.tokens[page])}`,
      );
      this.error.textContent = "";
      if (page !== this.page) this.stopStreams();
      this.page = page;
      this.tokens.length = page + 1;
      if (body.next_page_token) this.tokens.push(body.next_page_token);
      this.render(body.tasks || []);
    } catch (err) {
      this.failed(err);
    }
  }

  failed(err) {
    if (err.status === 401) this.hooks.onUnauthorized(err);
    else this.error.textContent = `The task list could not be loaded: ${err.message}`;
  }

  /** Refresh the page when it holds unfinished tasks that no stream follows. */
  poll() {
    const unfollowed = [...this.rows.entries()].some(
      ([id, row]) => !TERMINAL.has(row.state) && !this.streams.has(id),
    );
    if (unfollowed) this.show(this.page);
  }

  render(items) {
    const keep = new Set(items.map((t) => t.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.li.remove();
        this.rows.delete(id);
        this.streams.get(id)?.abort();
        this.streams.delete(id);
      }
    }
    items.forEach((item, index) => {
      const row = this.rows.get(item.id) || this.newRow(item);
      row.item = item;
      if (rank(stateOf(item)) > rank(row.state)) this.update(row, { state: stateOf(item), progress: null, error: null });
      if (TERMINAL.has(stateOf(item)) && !row.shown) this.showResult(row);
      if (this.list.children[index] !== row.li) this.list.insertBefore(row.li, this.list.children[index] || null);
    });
    document.getElementById("tasks-empty").hidden = items.length > 0 || this.page > 0;
    this.newer.disabled = this.page === 0;
    this.older.disabled = this.tokens.length <= this.page + 1;
    this.pageLabel.textContent = `Page ${this.page + 1}`;
    this.followUnfinished();
  }

  newRow(item) {
    const li = this.template.content.firstElementChild.cloneNode(true);
    li.dataset.taskId = item.id;
    li.setAttribute("aria-label", `Task ${item.id}`);
    li.querySelector(".model").textContent = item.model;
    li.querySelector(".duration").textContent = item.duration ? `${item.duration} s` : "";
    const created = li.querySelector(".created");
    created.dateTime = item.created_at;
    created.textContent = new Date(item.created_at).toLocaleString();
    li.querySelector(".task-id").textContent = `#${item.id}`;
    li.querySelector("progress").setAttribute("aria-label", `Progress of task ${item.id}`);
    const cancel = li.querySelector(".cancel");
    cancel.setAttribute("aria-label", `Cancel task ${item.id}`);
    cancel.addEventListener("click", () => this.cancel(row));
    const pre = li.querySelector(".curl");
    li.querySelector(".copy").addEventListener("click", async (e) => {
      try {
        await navigator.clipboard.writeText(pre.textContent);
        e.target.textContent = "Copied";
      } catch {
        // no clipboard (plain http on another host): select the text so Ctrl+C copies it
        getSelection().selectAllChildren(pre);
        e.target.textContent = "Selected: press Ctrl+C";
      }
    });
    li.querySelector(".request").addEventListener("toggle", () => {
      const request = rememberedRequest(item.id) || requestFromListItem(row.item);
      pre.textContent = curlCommand(location.origin, request, row.item.seed);
    });
    const row = { li, item, state: "", shown: false };
    this.rows.set(item.id, row);
    return row;
  }

  /** Show a state from the list or the stream: {state, progress (null: unknown), error}. */
  update(row, { state, progress, phase, error }) {
    const li = row.li;
    row.state = state;
    li.dataset.state = state;
    li.querySelector(".state").textContent = phase ? `${state} (${phase})` : state;
    const bar = li.querySelector("progress");
    const pct = progress ?? (state === "succeeded" ? 100 : null) ?? row.item.progress;
    if (pct !== null && pct !== undefined) {
      bar.value = pct;
      li.querySelector(".percent").textContent = `${pct}%`;
    }
    li.querySelector(".cancel").hidden = TERMINAL.has(state);
    const message = error ? error.message : state === "failed" ? row.item.err_code : "";
    if (message) li.querySelector(".task-error").textContent = message;
  }

  /**
   * The player, or why the task failed, from framecast's own task route: unlike Vidu's list it names each
   * creation's seed and carries the error message in words, not only its code.
   */
  async showResult(row) {
    row.shown = true;
    try {
      const task = await call(`/v1/tasks/${encodeURIComponent(row.item.id)}`);
      showCreations(row.li.querySelector(".creations"), row.item.id, task.creations || []);
      if (task.error) row.li.querySelector(".task-error").textContent = task.error.message;
    } catch (err) {
      row.shown = false;
      if (err.status === 401) this.hooks.onUnauthorized(err);
      else row.li.querySelector(".task-error").textContent = `The result could not be loaded: ${err.message}`;
    }
  }

  followUnfinished() {
    for (const [id, row] of this.rows) {
      if (this.streams.size >= MAX_STREAMS) return;
      if (!TERMINAL.has(row.state) && !this.streams.has(id)) this.follow(row);
    }
  }

  async follow(row) {
    const id = row.item.id;
    const ctrl = new AbortController();
    this.streams.set(id, ctrl);
    try {
      await followTask(
        id,
        (event, data) => {
          if (event === "state") {
            this.update(row, data);
            if (TERMINAL.has(data.state) && !row.shown) this.showResult(row);
          } else if (event === "error") {
            row.li.querySelector(".task-error").textContent = data.message;
          }
        },
        ctrl.signal,
      );
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.status === 401) {
        this.hooks.onUnauthorized(err);
        return;
      }
      if (err.status) {
        // the server refused the stream (e.g. the task is gone): say so, and do not ask again
        row.li.querySelector(".task-error").textContent = err.message;
        return;
      }
    } finally {
      if (this.streams.get(id) === ctrl) this.streams.delete(id);
    }
    // the stream ended without a terminal state (a proxy or restart cut it): follow again shortly
    if (!TERMINAL.has(row.state) && this.rows.get(id) === row) {
      setTimeout(() => this.followUnfinished(), RETRY_MS);
    }
  }

  async cancel(row) {
    const button = row.li.querySelector(".cancel");
    button.disabled = true;
    try {
      await call(`/ent/v2/tasks/${row.item.id}/cancel`, { method: "POST", body: { id: row.item.id } });
      // the stream may already have brought the cancelled state and its message
      if (!TERMINAL.has(row.state)) row.li.querySelector(".task-error").textContent = "Cancel requested";
      if (!this.streams.has(row.item.id)) this.show(this.page);
    } catch (err) {
      if (err.status === 401) this.hooks.onUnauthorized(err);
      else row.li.querySelector(".task-error").textContent = err.message;
    } finally {
      button.disabled = false;
    }
  }
}
