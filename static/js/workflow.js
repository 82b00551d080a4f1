// Live updates for the workflow detail page (docs/realtime.md). The page works without this
// module; it adds the socket, typing and presence, and posting the composer without a reload.

import { LiveSocket } from "./live-socket.js";

const TYPING_SEND_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 3_000;
// Changes that move buttons and forms around: the server renders those again.
const RELOADING = new Set([
  "participant.added", "participant.removed",
  "workflow.completed", "workflow.reopened", "workflow.cancelled",
]);
const STATES = {
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline",
  stopped: "disconnected (not allowed)",
};

const root = document.getElementById("workflow");
const indicator = document.getElementById("connection");
const log = document.getElementById("messages");
const noMessages = document.getElementById("no-messages");
const typingLine = document.getElementById("typing");
const presenceLine = document.getElementById("presence");
const composer = document.querySelector("#composer form");
const input = composer?.querySelector("textarea");
const me = root.dataset.userEmail;
const draftKey = `harbor.workflow-draft.${root.dataset.workflowId}`;

let navigating = false;
let lastTypingSent = 0;
const typists = new Map(); // email → timer that forgets them

function setIndicator(state) {
  indicator.hidden = false;
  indicator.textContent = STATES[state];
  indicator.dataset.state = state;
}

const socket = new LiveSocket(root.dataset.wsPath, {
  cursor: Number(root.dataset.lastCursor) || 0,
  onFrame: handle,
  onState: (state) => {
    if (!navigating) setIndicator(state);
  },
});

function handle(frame) {
  const data = frame.data ?? {};
  if (frame.type === "replay.truncated") {
    reload(); // too much was missed to replay: the page is the fresh state
  } else if (frame.type === "message.created") {
    addMessage(data.message);
  } else if (frame.type === "workflow.updated") {
    document.getElementById("workflow-title").textContent = data.workflow.title;
    document.title = `${data.workflow.title} · Harbor`;
  } else if (frame.type === "workflow.deleted") {
    navigate();
    location.assign(root.dataset.listUrl);
  } else if (RELOADING.has(frame.type)) {
    reload();
  } else if (frame.type === "typing") {
    showTyping(data.user);
  } else if (frame.type === "presence") {
    const users = data.users ?? [];
    presenceLine.textContent = users.length ? `Online: ${users.join(", ")}` : "";
  }
}

// Leaving the page closes the socket: that is not a drop to reconnect from.
function navigate() {
  navigating = true;
  socket.stop();
}

function reload() {
  if (navigating) return;
  navigate();
  if (input?.value) sessionStorage.setItem(draftKey, input.value);
  location.reload();
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The same markup as the template renders; text goes in through textContent only.
function addMessage(message) {
  if (!message || log.querySelector(`[data-message-id="${Number(message.id)}"]`)) return;
  const item = element("li", `chat-message chat-message-${message.message_type}`);
  item.dataset.messageId = message.id;
  const time = element("time", "", String(message.created_at).slice(0, 16).replace("T", " "));
  time.dateTime = message.created_at;
  const meta = element("p", "chat-meta");
  meta.append(element("strong", "", message.sender ?? "Harbor"), " ", time);
  const content = element("p", "chat-content");
  if (message.message_type === "share_link" && message.share_token) {
    const link = element("a", "", message.content);
    link.href = `/share/${encodeURIComponent(message.share_token)}`;
    content.append(link);
  } else {
    content.textContent = message.content;
  }
  item.append(meta, content);
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.hidden = false;
  noMessages.hidden = true;
  log.append(item);
  if (atBottom) log.scrollTop = log.scrollHeight;
  forgetTypist(message.sender);
}

function showTyping(email) {
  if (!email || email === me) return;
  clearTimeout(typists.get(email));
  typists.set(email, setTimeout(() => forgetTypist(email), TYPING_SHOWN_MS));
  renderTyping();
}

function forgetTypist(email) {
  clearTimeout(typists.get(email));
  typists.delete(email);
  renderTyping();
}

function renderTyping() {
  const names = [...typists.keys()];
  typingLine.textContent = names.length ? `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…` : "";
}

async function postOverApi(event) {
  if (!socket.live) return; // the ordinary form post
  event.preventDefault();
  const button = composer.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(root.dataset.messagesApi, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": composer.querySelector("[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify({ content: input.value }),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    input.value = ""; // the message itself arrives over the socket
  } catch {
    // The ordinary post: it shows the server's error, or succeeds where the API did not.
    navigate();
    composer.submit();
  } finally {
    button.disabled = false;
  }
}

if (composer && input) {
  input.value ||= sessionStorage.getItem(draftKey) ?? "";
  composer.addEventListener("submit", postOverApi);
  input.addEventListener("input", () => {
    if (socket.live && Date.now() - lastTypingSent >= TYPING_SEND_EVERY_MS) {
      lastTypingSent = Date.now();
      socket.send({ type: "typing" });
    }
  });
}
sessionStorage.removeItem(draftKey);

// Any other form post reloads the page anyway; a reload or reconnect on top would abort it.
document.addEventListener("submit", (event) => {
  if (!event.defaultPrevented) navigate();
});

log.scrollTop = log.scrollHeight;
setIndicator("offline");
socket.connect();
