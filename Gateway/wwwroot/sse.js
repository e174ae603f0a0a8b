// Following a job's event stream with fetch (EventSource cannot send the Authorization header): an SSE parser of our
// own, and a follower that reconnects with Last-Event-ID and backoff, so a dropped connection loses and repeats nothing.

import { ApiError, apiHeaders, ensureOk, jobPath } from './api.js';

/**
 * The text/event-stream format: lines end in CR LF, LF or CR; `field: value` (one leading space dropped); `:` starts
 * a comment; a blank line dispatches the event. `id` persists across events, as the standard says.
 */
export class SseParser {
  constructor(onEvent, onRetry) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = '';
    this.pendingCr = false;
    this.lastEventId = null;
    this.reset();
  }

  reset() {
    this.type = '';
    this.data = [];
    this.hasData = false;
  }

  push(chunk) {
    let text = chunk;
    if (this.pendingCr) {
      // A CR ended the last chunk: a LF that starts this one belongs to the same line end.
      this.pendingCr = false;
      if (text.startsWith('\n')) {
        text = text.slice(1);
      }
    }
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') {
        continue;
      }
      this.line(this.buffer.slice(start, i));
      if (c === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') {
            i++;
          }
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line.length === 0) {
      if (this.hasData) {
        this.onEvent({ id: this.lastEventId, type: this.type || 'message', data: this.data.join('\n') });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) {
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value) && this.onRetry) {
          this.onRetry(Number.parseInt(value, 10));
        }
        break;
      default:
        break;
    }
  }
}

const terminalTypes = new Set(['completed', 'failed', 'cancelled']);

export const isTerminalStatus = (status) => terminalTypes.has(status);

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows a job until its terminal event (or until `signal` aborts). `afterSeq` is the last seq the caller already
 * has (null: start with a snapshot). Calls `onItem({seq, type, data})` once per event, in seq order, never twice;
 * `onConnection(state, detail)` says 'open', 'reconnecting' (with the delay) or 'ended'. Ends by returning; fails
 * with an ApiError only when following cannot go on (401, 403, 404).
 */
export async function followJob(jobId, { afterSeq = null, signal, onItem, onConnection = () => {} }) {
  let last = afterSeq;
  let retryMs = 1000;
  let failures = 0;
  while (!signal.aborted) {
    let finished = false;
    let received = false;
    try {
      const headers = apiHeaders({ Accept: 'text/event-stream' });
      if (last !== null) {
        headers.set('Last-Event-ID', String(last));
      }
      const response = await fetch(`${jobPath(jobId)}/events`, { headers, signal, cache: 'no-store', credentials: 'same-origin' });
      await ensureOk(response);
      onConnection('open');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser((message) => {
        if (finished) {
          return;
        }
        const seq = message.id !== null && /^\d+$/.test(message.id) ? Number(message.id) : null;
        if (seq !== null && last !== null && seq <= last) {
          return; // already had it
        }
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        if (seq !== null) {
          last = seq;
        }
        received = true;
        onItem({ seq, type: message.type, data });
        if (terminalTypes.has(message.type) || (message.type === 'snapshot' && data && isTerminalStatus(data.status))) {
          finished = true;
        }
      }, (ms) => {
        retryMs = ms;
      });
      while (!finished) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        parser.push(value);
      }
      if (finished) {
        await reader.cancel().catch(() => {});
        onConnection('ended');
        return;
      }
      // The server ended the stream (its maximum life) or the connection dropped: carry on from the last event.
      failures = received ? 0 : failures + 1;
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
        onConnection('ended');
        throw error;
      }
      failures++;
      if (error instanceof ApiError && error.retryAfter !== null) {
        onConnection('reconnecting', error.retryAfter * 1000);
        await sleep(error.retryAfter * 1000, signal);
        continue;
      }
    }
    // Backoff with jitter: at once-ish after a stream that delivered, doubling while reconnects fail, at most 30 s.
    const base = Math.min(30000, retryMs * 2 ** Math.min(failures, 5));
    const delay = failures === 0 ? Math.min(retryMs, 250 + Math.random() * 250) : base / 2 + Math.random() * (base / 2);
    onConnection('reconnecting', delay);
    await sleep(delay, signal);
  }
}
