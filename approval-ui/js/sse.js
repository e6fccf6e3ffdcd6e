// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, so the stream
// (which also carries the same-origin SSO session cookie) is read with a ReadableStream reader
// and parsed here (WHATWG "event stream interpretation").
// EventStream reconnects on drop with Last-Event-ID, backing off 1 s → 10 s, and treats a stream
// that is silent for longer than `staleMs` (the server pings every 15 s) as dropped.

export class SseParser {
  constructor() {
    this.buffer = '';
    this.data = [];
    this.eventType = '';
    this.lastEventId = '';
    this.retry = null;
  }

  // Feeds decoded text; returns the events completed by it: [{event, data, id}].
  push(text) {
    this.buffer += text;
    const events = [];
    for (;;) {
      const m = /\r\n|\n|\r/.exec(this.buffer);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) events.push(ev);
    }
    return events;
  }

  line(line) {
    if (line === '') {
      if (this.data.length === 0) { this.eventType = ''; return null; }
      const ev = { event: this.eventType || 'message', data: this.data.join('\n'), id: this.lastEventId };
      this.data = [];
      this.eventType = '';
      return ev;
    }
    if (line.startsWith(':')) return null;  // comment (heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventType = value;
    else if (field === 'id') { if (!value.includes('\0')) this.lastEventId = value; }
    else if (field === 'retry') { if (/^\d+$/.test(value)) this.retry = Number(value); }
    return null;
  }
}

export class EventStream {
  // url; headers(): object; onEvent({event, data, id}); onStatus(state, detail) with state
  // 'connecting' | 'live' | 'reconnecting'; onOpen(); onAuthError(status, body).
  constructor({ url, headers, onEvent, onStatus, onOpen, onAuthError, staleMs = 40_000 }) {
    Object.assign(this, { url, headers, onEvent, onStatus, onOpen, onAuthError, staleMs });
    this.lastEventId = null;
    this.stopped = true;
    this.attempt = 0;
    this.controller = null;
    this.retryTimer = null;
    this.staleTimer = null;
    this.nextRetryAt = 0;
    this.onOnline = () => this.reconnectNow();
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.staleTimer);
    this.controller?.abort();
    this.controller = null;
  }

  reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.attempt = 0;
    this.connect();
  }

  async connect() {
    clearTimeout(this.retryTimer);
    const controller = new AbortController();
    this.controller = controller;
    this.onStatus?.(this.attempt === 0 && this.lastEventId === null ? 'connecting' : 'reconnecting', {});
    const headers = { ...this.headers(), Accept: 'text/event-stream' };
    if (this.lastEventId !== null) headers['Last-Event-ID'] = this.lastEventId;
    let res;
    try {
      res = await fetch(this.url, { headers, signal: controller.signal, cache: 'no-store', credentials: 'same-origin' });
    } catch (e) {
      if (controller !== this.controller || this.stopped) return;
      return this.scheduleRetry('holdgate did not answer');
    }
    if (controller !== this.controller || this.stopped) { controller.abort(); return; }
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      this.stopped = true;
      this.onAuthError?.(res.status, body);
      return;
    }
    if (res.status === 400 && this.lastEventId !== null) {
      this.lastEventId = null;  // the server refused our resume point: start fresh
      return this.scheduleRetry('the event stream restarted');
    }
    const type = res.headers.get('content-type') || '';
    if (!res.ok || !type.startsWith('text/event-stream') || !res.body) {
      res.body?.cancel().catch(() => {});
      return this.scheduleRetry(`the event stream answered HTTP ${res.status}`);
    }
    this.attempt = 0;
    this.onStatus?.('live', {});
    this.onOpen?.();
    const parser = new SseParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    this.armStale(controller);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.armStale(controller);
        for (const ev of parser.push(value)) {
          if (ev.id !== '') this.lastEventId = ev.id;
          try { this.onEvent?.(ev); } catch (e) { console.error('holdgate: event handler failed', e); }
        }
      }
    } catch {
      // aborted or the connection broke: reconnect below
    }
    clearTimeout(this.staleTimer);
    if (controller !== this.controller || this.stopped) return;
    this.scheduleRetry('the connection dropped');
  }

  armStale(controller) {
    clearTimeout(this.staleTimer);
    this.staleTimer = setTimeout(() => { if (controller === this.controller) controller.abort(); }, this.staleMs);
  }

  scheduleRetry(why) {
    if (this.stopped) return;
    this.controller = null;
    const base = Math.min(10_000, 1000 * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.nextRetryAt = Date.now() + delay;
    this.onStatus?.('reconnecting', { why, retryAt: this.nextRetryAt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
