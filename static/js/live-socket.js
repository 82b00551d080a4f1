// A socket to one of Harbor's real-time routes (docs/realtime.md): reconnects with full-jitter
// backoff, resumes from the last cursor, pings to stay fresh, and stops for good on 4401/4403/4404.

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
const PING_EVERY_MS = 30_000;
// The server refused us (logged out, removed, no such route): reconnecting cannot help.
const NOT_ALLOWED = new Set([4401, 4403, 4404]);

export class LiveSocket {
  // onFrame(frame) gets every frame; onState(state) gets "live", "reconnecting", "offline" or
  // "stopped". With resume, reconnects ask for what was missed since the last cursor; a null
  // cursor starts from now (the page was rendered without one).
  constructor(path, { onFrame, onState = () => {}, cursor = 0, resume = true }) {
    this.path = path;
    this.onFrame = onFrame;
    this.onState = onState;
    this.cursor = cursor;
    this.resume = resume;
    this.socket = null;
    this.live = false;
    this.stopped = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    addEventListener("offline", () => this.onState("offline"));
    addEventListener("online", () => {
      const state = this.socket?.readyState;
      if (!this.stopped && state !== WebSocket.OPEN && state !== WebSocket.CONNECTING) {
        this.attempt = 0;
        this.connect();
      }
    });
  }

  connect() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const resuming = this.resume && this.cursor !== null;
    const query = resuming ? `${this.path.includes("?") ? "&" : "?"}after=${this.cursor}` : "";
    this.socket = new WebSocket(`${scheme}//${location.host}${this.path}${query}`);
    this.socket.addEventListener("message", (event) => this.handle(JSON.parse(event.data)));
    this.socket.addEventListener("close", (event) => this.closed(event));
  }

  // Page navigation closes sockets too: stop first so that it does not count as a drop.
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
  }

  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  handle(frame) {
    // Cursors only grow; keeping the largest means a resume never asks for one twice.
    if (frame.cursor) this.cursor = Math.max(this.cursor ?? 0, frame.cursor);
    if (frame.type === "ready") {
      this.cursor = frame.data?.cursor ?? this.cursor;
      this.live = true;
      this.attempt = 0;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
      this.onState("live");
    }
    this.onFrame(frame);
  }

  closed(event) {
    this.live = false;
    clearInterval(this.pingTimer);
    if (this.stopped) return;
    if (NOT_ALLOWED.has(event.code)) {
      this.stop();
      this.onState("stopped");
    } else if (!navigator.onLine) {
      this.onState("offline"); // the "online" event reconnects
    } else {
      this.onState("reconnecting");
      // Full jitter, so that clients cut off together by a restart do not return together.
      const delay = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
      this.attempt += 1;
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }
  }
}
