// A Server-Sent Events reader over fetch(): the browser's EventSource cannot send an Authorization header,
// and an API key in a URL would end up in logs and history.

import { authHeaders, errorOf } from "./api.js";

// events are separated by an empty line
const BLANK_LINE = /\r?\n\r?\n/;

/**
 * Parse one SSE block ("event: x\ndata: {...}") into {event, data}; null for a comment-only block.
 * @param {string} block
 */
export function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/**
 * Follow /v1/tasks/{id}/events until the server ends the stream (after a terminal state) or `signal` aborts.
 * @param {string} taskId
 * @param {(event: string, data: any) => void} onEvent
 * @param {AbortSignal} signal
 */
export async function followTask(taskId, onEvent, signal) {
  const resp = await fetch(`/v1/tasks/${encodeURIComponent(taskId)}/events`, {
    headers: { ...authHeaders(), Accept: "text/event-stream" },
    signal,
  });
  if (!resp.ok) throw await errorOf(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let blank;
    while ((blank = BLANK_LINE.exec(buffer)) !== null) {
      const block = buffer.slice(0, blank.index);
      buffer = buffer.slice(blank.index + blank[0].length);
      const parsed = parseBlock(block);
      if (parsed) onEvent(parsed.event, JSON.parse(parsed.data));
    }
  }
}
