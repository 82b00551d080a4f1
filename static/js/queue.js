// Live updates for the queue stream page (docs/queue.md). The page works without this module;
// it adds the socket, a polling fallback while the socket is down, replies in place, posting
// without a reload (Enter sends), times in the viewer's zone, and the "bot online / offline"
// indicator kept current by polling the bots' presence.
import { LiveSocket } from "./live-socket.js";

// While the socket is down, poll the stream from its cursor every 5 s, backing off to 30 s (as
// the original frontend did).
const POLL_FIRST_MS = 5_000;
const POLL_CAP_MS = 30_000;
const MAX_DEPTH = 4;
const STATES = {
  connecting: ["connecting…", "offline"],
  live: ["live", "live"],
  reconnecting: ["polling (reconnecting…)", "reconnecting"],
  offline: ["polling (offline)", "offline"],
  stopped: ["disconnected (not allowed)", "stopped"],
};

const root = document.getElementById("queue");
const indicator = document.getElementById("connection");
const stream = document.getElementById("stream");
const noMessages = document.getElementById("no-messages");
const composer = document.querySelector("#composer form");
const input = composer?.querySelector("textarea");
const replyField = composer?.querySelector("[name=reply_to]");
const replying = document.getElementById("replying");
const composerError = document.getElementById("composer-error");
const presence = document.getElementById("bot-presence");
const botsOffline = document.getElementById("bots-offline");
const tenant = root.dataset.tenant;
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

// GET /api/queue/messages hands back `next_cursor` even on its last page: kept, it fetches
// only what was posted after the last message seen.
let cursor = root.dataset.cursor || "";
let live = false;
let pollTimer = null;
let pollDelay = POLL_FIRST_MS;

function setIndicator(state) {
  const [text, name] = STATES[state];
  indicator.hidden = false;
  indicator.textContent = text;
  indicator.dataset.state = name;
}

function onState(state) {
  live = state === "live";
  if (live) {
    stopPolling();
    poll(); // anything posted while we connected
  } else {
    schedulePoll(); // the stream keeps moving while we are away
  }
  setIndicator(state);
}

function handle(frame) {
  const data = frame.data ?? {};
  if (frame.type === "replay.truncated") {
    poll();
  } else if (frame.type === "streaming") {
    showDraft(data.message_id, data.partial_text); // a bot's answer as it is written (never stored)
  } else if (frame.type.startsWith("queue_message.")) {
    // created, claimed, answered (with its reply), completed, failed, released, requeued, retried
    upsert(data.message);
    upsert(data.reply);
    if (data.message && data.message.status !== "processing") removeDraft(data.message.id);
  }
}

// --- Streamed answers ----------------------------------------------------------------------
// While a bot streams its answer, the text so far shows as a draft reply under the message,
// like a chat product's: the AI badge, the text growing, a blinking caret. Each `streaming`
// frame carries the whole text so far, so a lost frame costs nothing. The real reply (from
// queue_message.answered, or polling) replaces the draft; a failure or a requeue removes it.
function showDraft(messageId, text) {
  const parent = document.getElementById(`m-${messageId}`);
  if (!parent || !text) return;
  let draft = document.getElementById(`draft-${messageId}`);
  if (!draft) {
    draft = element("li", "queue-message queue-message-ai queue-draft");
    draft.id = `draft-${messageId}`;
    draft.dataset.depth = String(Math.min(MAX_DEPTH, Number(parent.dataset.depth) + 1));
    draft.setAttribute("aria-busy", "true");
    const meta = element("p", "chat-meta");
    meta.append(element("strong", "", parent.querySelector(".queue-entity")?.textContent.replace("→ ", "") || "Bot"), " ");
    const type = element("span", "queue-type", "AI");
    type.title = "Written by a bot";
    meta.append(type, " ", element("span", "queue-typing", "writing…"));
    draft.append(meta, element("p", "chat-content queue-draft-text"));
    let next = parent.nextElementSibling;
    while (next && Number(next.dataset.depth) > Number(parent.dataset.depth)) next = next.nextElementSibling;
    stream.insertBefore(draft, next);
  }
  const atBottom = stream.scrollHeight - stream.scrollTop - stream.clientHeight < 40;
  const body = draft.querySelector(".queue-draft-text");
  if (text.length >= body.textContent.length) body.textContent = text; // frames may arrive late
  if (atBottom) stream.scrollTop = stream.scrollHeight;
}

function removeDraft(messageId) {
  document.getElementById(`draft-${messageId}`)?.remove();
}

// --- Polling fallback --------------------------------------------------------------------
function schedulePoll() {
  if (pollTimer || live) return;
  pollTimer = setTimeout(async () => {
    pollTimer = null;
    const found = await poll();
    pollDelay = found ? POLL_FIRST_MS : Math.min(POLL_CAP_MS, pollDelay * 2);
    schedulePoll();
  }, pollDelay);
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
  pollDelay = POLL_FIRST_MS;
}

async function poll() {
  let found = false;
  try {
    for (;;) {
      const query = new URLSearchParams({ limit: "200" });
      if (cursor) query.set("cursor", cursor);
      if (tenant) query.set("tenant_id", tenant);
      const response = await fetch(`${root.dataset.messagesApi}?${query}`, { credentials: "same-origin" });
      if (!response.ok) return found;
      const page = await response.json();
      page.results.forEach(upsert);
      found = found || page.results.length > 0;
      if (page.next_cursor) cursor = page.next_cursor;
      if (!page.has_more) return found;
    }
  } catch {
    return found;
  }
}

// --- Rendering (the same markup as templates/queue_app/message.html) ----------------------
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The CSP refuses style attributes in HTML, so a name's colour travels as data-color and is set
// here through the DOM (which the policy allows), for server-rendered and live messages alike.
function paint(name) {
  if (/^#[0-9a-fA-F]{6}$/.test(name.dataset.color ?? "")) name.style.color = name.dataset.color;
}

// Server-rendered times are UTC; the viewer reads their own zone: the time alone for today,
// with the date otherwise, and the full date and zone on hover.
function localise(time) {
  const when = new Date(time.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) return;
  const today = new Date().toDateString() === when.toDateString();
  time.textContent = (today ? timeFormat : dateTimeFormat).format(when);
  time.title = fullFormat.format(when);
}

function setStatus(item, status) {
  const badge = item.querySelector("[data-status]"); // ai messages have none: they are born complete
  if (!badge) return;
  badge.textContent = status;
  badge.className = `status queue-status-${status}`;
}

function render(message, depth) {
  const item = element("li", `queue-message queue-message-${message.message_type}`);
  item.id = `m-${message.id}`;
  item.dataset.id = message.id;
  item.dataset.depth = String(depth); // harbor.css indents by it
  const meta = element("p", "chat-meta");
  const name = element("strong", "", message.username);
  if (message.color) name.dataset.color = message.color;
  paint(name);
  meta.append(name, " ");
  if (message.message_type === "ai") {
    const type = element("span", "queue-type", "AI");
    type.title = "Written by a bot";
    meta.append(type, " ");
  }
  if (message.entity) meta.append(element("span", "queue-entity", `→ ${message.entity}`), " ");
  const time = element("time");
  time.setAttribute("datetime", message.created_at);
  localise(time);
  meta.append(time, " ");
  if (message.message_type !== "ai") {
    const badge = element("span", `status queue-status-${message.status}`, message.status);
    badge.dataset.status = "";
    meta.append(badge, " ");
  }
  const reply = element("button", "button-link", "Reply");
  reply.type = "button";
  reply.dataset.replyTo = message.id;
  meta.append(reply);
  item.append(meta, element("p", "chat-content", message.text));
  return item;
}

function upsert(message) {
  if (!message) return;
  const existing = document.getElementById(`m-${message.id}`);
  if (existing) {
    setStatus(existing, message.status);
    if (message.status === "processing" && message.partial_text) showDraft(message.id, message.partial_text);
    return;
  }
  const parent = message.reply_to && document.getElementById(`m-${message.reply_to}`);
  if (message.message_type === "ai" && message.reply_to) removeDraft(message.reply_to);
  if (parent && message.message_type === "ai") {
    // A bot's reply means its message is complete (polling sees replies, not status changes).
    setStatus(parent, "complete");
  }
  const depth = parent ? Math.min(MAX_DEPTH, Number(parent.dataset.depth) + 1) : 0;
  const item = render(message, depth);
  const atBottom = stream.scrollHeight - stream.scrollTop - stream.clientHeight < 40;
  if (parent) {
    // After the parent's last descendant: the first following item no deeper than the parent.
    let next = parent.nextElementSibling;
    while (next && Number(next.dataset.depth) > Number(parent.dataset.depth)) next = next.nextElementSibling;
    stream.insertBefore(item, next);
  } else {
    stream.append(item);
  }
  stream.hidden = false;
  noMessages.hidden = true;
  if (atBottom && !parent) stream.scrollTop = stream.scrollHeight;
}

// --- Composer -----------------------------------------------------------------------------
stream.addEventListener("click", (event) => {
  const button = event.target.closest("[data-reply-to]");
  if (!button || !replyField) return;
  replyField.value = button.dataset.replyTo;
  replying.hidden = false;
  const link = document.getElementById("replying-to");
  link.href = `#m-${button.dataset.replyTo}`;
  link.textContent = button.closest("li").querySelector("strong").textContent;
  input.focus();
});
document.getElementById("reply-cancel")?.addEventListener("click", () => {
  replyField.value = "";
  replying.hidden = true;
});

function showError(text) {
  composerError.textContent = text;
  composerError.hidden = !text;
}

// The API's 400 names fields: {"error": {"message", "fields": {"username": ["…"]}}}.
function errorText(body) {
  const fields = body?.error?.fields;
  if (fields && typeof fields === "object") {
    const labels = { text: "Message", username: "Post as", entity: "Entity", priority: "Priority", reply_to: "Reply" };
    return Object.entries(fields)
      .map(([name, errors]) => `${labels[name] ?? name}: ${[errors].flat().join(" ")}`)
      .join(" ");
  }
  return body?.error?.message ?? "";
}

async function postOverApi(event) {
  event.preventDefault();
  if (!input.value.trim()) {
    showError("Message: a message cannot be empty.");
    input.focus();
    return;
  }
  const button = composer.querySelector("button[type=submit]");
  const field = (name) => composer.querySelector(`[name=${name}]`)?.value ?? "";
  const body = {
    text: input.value,
    username: field("username"),
    entity: field("entity"),
    priority: Number(field("priority") || 0),
    reply_to: field("reply_to") || null,
    tenant_id: tenant || null,
  };
  button.disabled = true;
  try {
    const response = await fetch(root.dataset.messagesApi, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": field("csrfmiddlewaretoken") },
      body: JSON.stringify(body),
    });
    if (response.status === 400 || response.status === 403) {
      const answer = await response.json().catch(() => null);
      const text = errorText(answer);
      if (text) {
        showError(text);
        const fields = Object.keys(answer?.error?.fields ?? {});
        if (fields.some((name) => ["username", "entity", "priority"].includes(name))) {
          composer.querySelector(".queue-options").open = true;
        }
        return;
      }
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    showError("");
    input.value = "";
    replyField.value = "";
    replying.hidden = true;
    if (!live) poll(); // the socket would have brought it
  } catch {
    composer.submit(); // the ordinary post shows the server's error
  } finally {
    button.disabled = false;
  }
}

composer?.addEventListener("submit", postOverApi);
// Enter sends, Shift+Enter breaks the line (not while an input method is composing a character).
input?.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

// --- Bot presence -------------------------------------------------------------------------
// The bots' heartbeats (manage.py workers) are polled: a bot that was killed sends no event,
// it just stops beating, so only asking tells "offline" apart from "quiet".
const BOTS_POLL_MS = Math.max(1000, Number(root.dataset.botsPollMs) || 5000);

function showPresence({ online, bots }) {
  presence.dataset.online = String(online);
  presence.querySelector("[data-bot-label]").textContent = online
    ? `Bot online${bots > 1 ? ` (${bots})` : ""}`
    : "Bot offline";
  botsOffline.hidden = online;
}

let presenceInFlight = false;

async function refreshPresence() {
  if (presenceInFlight) return;
  presenceInFlight = true;
  try {
    const response = await fetch(root.dataset.botsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) showPresence(await response.json());
  } catch {
    // Harbor unreachable: keep what we last knew; the connection indicator says we are offline.
  } finally {
    presenceInFlight = false;
  }
}

// A hidden tab does not poll; it catches up as soon as it is shown again.
function pollPresence() {
  if (document.visibilityState === "visible") refreshPresence();
  setTimeout(pollPresence, BOTS_POLL_MS);
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshPresence();
});

stream.querySelectorAll("[data-color]").forEach(paint);
stream.querySelectorAll("time[datetime]").forEach(localise);
setTimeout(pollPresence, BOTS_POLL_MS);
stream.scrollTop = stream.scrollHeight;
setIndicator("connecting");
new LiveSocket(root.dataset.wsPath, { cursor: null, onFrame: handle, onState }).connect();

// A page rendered mid-answer shows the text so far at once (the message's `partial_text`).
for (const item of stream.querySelectorAll("[data-partial]")) showDraft(item.dataset.id, item.dataset.partial);
