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
const readStateApi = root.dataset.readStateApi; // only participants have a read cursor
const MENTION = /@\*\*([^*\n]{1,200})\*\*/g;
const READ_AFTER_MS = 1_000;
let readTimer = null;
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
  } else if (frame.type === "message.updated" || frame.type === "message.deleted") {
    updateMessage(data.message);
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
    const users = (data.users ?? []).map(nameOf);
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
  const author = element("strong", "", message.sender_name ?? "Harbor");
  if (message.sender) author.title = message.sender;
  meta.append(author, " ", time);
  const content = element("p", "chat-content");
  if (message.message_type === "share_link" && message.share_token) {
    const href = `/share/${encodeURIComponent(message.share_token)}`;
    if (message.file?.thumbnail_url) {
      // The same link as the name's, for the pointer only: one link per file for everyone else.
      const preview = element("a", "chat-thumbnail");
      preview.href = href;
      preview.tabIndex = -1;
      preview.setAttribute("aria-hidden", "true");
      const image = element("img");
      image.src = message.file.thumbnail_url;
      image.alt = "";
      preview.append(image);
      content.append(preview);
    }
    const link = element("a", "", message.content);
    link.href = href;
    content.append(link);
    if (message.file) content.append(" ", element("span", "chat-file-facts", `${fileSize(message.file.size)} · ${message.file.content_type}`));
  } else {
    content.append(...withMentions(message.content));
  }
  const edited = element("span", "chat-edited", "(edited)");
  edited.dataset.edited = "";
  edited.hidden = true;
  meta.append(" ", edited);
  item.id = `m-${Number(message.id)}`;
  item.append(meta, content);
  if (message.sender === me && composer) item.append(ownActions(message));
  else if (message.sender !== me && readStateApi) item.append(markUnreadAction(message));
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.hidden = false;
  noMessages.hidden = true;
  log.append(item);
  if (atBottom) log.scrollTop = log.scrollHeight;
  forgetTypist(message.sender);
  showTime(time);
  groupMessages();
  markRead();
}

// An edit or a delete, from anyone's tab: the message changes in place.
function updateMessage(message) {
  const item = log.querySelector(`[data-message-id="${Number(message.id)}"]`);
  if (!item) return;
  const content = item.querySelector(".chat-content");
  if (message.deleted_at) {
    content.textContent = "This message was deleted.";
    item.classList.add("chat-message-deleted");
    for (const actions of item.querySelectorAll(".chat-actions")) actions.remove();
    item.querySelector("[data-edited]").hidden = true;
  } else {
    content.replaceChildren(...withMentions(message.content));
    item.querySelector("[data-edited]").hidden = !message.edited_at;
    const textarea = item.querySelector("[data-edit-message] textarea");
    if (textarea) textarea.value = message.content;
  }
}

// The page's own forms (they work without this module), for a message added live.
function markUnreadAction(message) {
  const form = element("form", "inline-form chat-actions");
  form.method = "post";
  form.action = `${location.pathname}read_state/`;
  const button = element("button", "button-link", "Mark unread");
  button.type = "submit";
  button.name = "unread_from";
  button.value = message.id;
  form.append(csrfInput(), button);
  return form;
}

function ownActions(message) {
  const actions = element("div", "chat-actions");
  actions.dataset.ownMessage = "";
  const base = `${location.pathname}messages/${Number(message.id)}`;
  if (message.message_type === "text") {
    const details = element("details");
    const form = element("form", "stacked-form");
    form.method = "post";
    form.action = `${base}/edit/`;
    form.dataset.editMessage = "";
    const label = element("label", "visually-hidden", "Edit your message");
    label.htmlFor = `edit-${Number(message.id)}`;
    const textarea = element("textarea");
    textarea.name = "content";
    textarea.id = label.htmlFor;
    textarea.rows = 2;
    textarea.required = true;
    textarea.value = message.content;
    form.append(csrfInput(), label, textarea, element("button", "button-secondary", "Save"));
    details.append(element("summary", "", "Edit"), form);
    actions.append(details);
  }
  const remove = element("form", "inline-form");
  remove.method = "post";
  remove.action = `${base}/delete/`;
  remove.dataset.deleteMessage = "";
  remove.append(csrfInput(), element("button", "button-link", "Delete"));
  actions.append(remove);
  return actions;
}

function csrfInput() {
  const input = element("input");
  input.type = "hidden";
  input.name = "csrfmiddlewaretoken";
  input.value = csrfToken();
  return input;
}

// Edits and deletes over the API while live: the socket then updates every tab, this one too.
async function changeOverApi(event) {
  const form = event.target;
  const editing = form.matches("[data-edit-message]");
  if (!socket.live || !(editing || form.matches("[data-delete-message]"))) return;
  event.preventDefault();
  const id = form.closest("[data-message-id]").dataset.messageId;
  const response = await fetch(`${root.dataset.messagesApi}/${id}`, {
    method: editing ? "PATCH" : "DELETE",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: editing ? JSON.stringify({ content: form.querySelector("textarea").value }) : undefined,
  }).catch(() => null);
  if (response?.ok) form.closest("details")?.removeAttribute("open");
  else {
    navigate();
    form.submit(); // the page's answer says what went wrong
  }
}
log.addEventListener("submit", changeOverApi);

// As Django's filesizeformat: "1.2 MB".
function fileSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${size} bytes` : `${size.toFixed(1)} ${units[unit]}`;
}

// A file over the limit is refused before it is sent, not after minutes of uploading it.
const uploadForm = document.querySelector(".upload-form");
uploadForm?.addEventListener("submit", (event) => {
  const file = uploadForm.querySelector("input[type=file]").files[0];
  const limit = Number(root.dataset.maxUploadBytes);
  const error = uploadForm.querySelector("[data-upload-error]");
  error.hidden = true;
  if (file && limit && file.size > limit) {
    event.preventDefault();
    event.stopImmediatePropagation(); // no reload: nothing was sent
    error.textContent = `${file.name} is ${fileSize(file.size)}; files are limited to ${fileSize(limit)}.`;
    error.hidden = false;
  }
});

// Text and highlighted "@Name" nodes, as the template's with_mentions filter renders them.
function withMentions(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    nodes.push(text.slice(last, match.index), element("span", "mention", `@${match[1].trim()}`));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

// What is on screen while the tab is visible is read: the cursor moves to the newest message
// (every other tab and device of the user hears of it over their inbox).
function markRead() {
  if (!readStateApi || document.visibilityState !== "visible") return;
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const newest = log.querySelector(".chat-message:last-child")?.dataset.messageId;
    if (!newest) return;
    await fetch(readStateApi, {
      method: "PATCH",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ last_read_message_id: newest }),
    }).catch(() => {}); // offline: the next message or visit moves it
  }, READ_AFTER_MS);
}

function csrfToken() {
  return document.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
}
document.addEventListener("visibilitychange", markRead);

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

// Presence and typing frames name people by email (the socket protocol's); the page says names.
function nameOf(email) {
  return people.find((person) => person.email === email)?.name ?? email;
}

function renderTyping() {
  const names = [...typists.keys()].map(nameOf);
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
        "X-CSRFToken": csrfToken(),
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
  // Enter sends (as in Slack and Zulip); Shift+Enter, and Enter while an IME composes, do not.
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && input.value.trim()) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
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

// --- Times in the reader's zone, relative while recent ----------------------------------------
const MINUTE = 60_000;
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function showTime(node) {
  const when = new Date(node.dateTime);
  if (Number.isNaN(when.getTime())) return;
  const ago = Date.now() - when.getTime();
  node.title = absolute.format(when);
  if (ago < MINUTE) node.textContent = "just now";
  else if (ago < 60 * MINUTE) node.textContent = relative.format(-Math.round(ago / MINUTE), "minute");
  else if (ago < 24 * 60 * MINUTE) node.textContent = relative.format(-Math.round(ago / (60 * MINUTE)), "hour");
  else node.textContent = absolute.format(when);
}

function showTimes() {
  for (const node of document.querySelectorAll("#messages time[datetime], #history time[datetime]")) showTime(node);
}

// --- Consecutive messages of one author read as one block --------------------------------------
const GROUP_WITHIN_MS = 5 * MINUTE;

function groupMessages() {
  let previous = null;
  for (const item of log.querySelectorAll("li")) {
    if (!item.classList.contains("chat-message")) {
      previous = null; // the "new messages" divider starts a block
      continue;
    }
    const author = item.querySelector(".chat-meta strong")?.title ?? "";
    const at = new Date(item.querySelector("time")?.dateTime ?? 0).getTime();
    const continued = previous && previous.author === author && author && at - previous.at < GROUP_WITHIN_MS;
    item.classList.toggle("chat-message-continued", Boolean(continued));
    previous = { author, at };
  }
}

// --- @mentions: the composer offers the other participants after "@" ----------------------------
const people = JSON.parse(document.getElementById("people")?.textContent ?? "[]");
const mentionable = people.filter((person) => person.email !== me);
let suggestions = null;

function mentionQuery() {
  const before = input.value.slice(0, input.selectionStart);
  const match = before.match(/(?:^|\s)@([^\s@*]{0,40})$/);
  return match ? match[1].toLowerCase() : null;
}

function closeSuggestions() {
  suggestions?.remove();
  suggestions = null;
  input?.removeAttribute("aria-activedescendant");
}

function insertMention(person) {
  const before = input.value.slice(0, input.selectionStart).replace(/@[^\s@*]*$/, "");
  const after = input.value.slice(input.selectionStart);
  const token = `@**${person.name}** `;
  input.value = before + token + after;
  input.selectionStart = input.selectionEnd = (before + token).length;
  closeSuggestions();
  input.focus();
}

function offerMentions() {
  const query = mentionQuery();
  closeSuggestions();
  if (query === null) return;
  const found = mentionable.filter((p) => p.name.toLowerCase().includes(query) || p.email.startsWith(query)).slice(0, 6);
  if (!found.length) return;
  suggestions = element("ul", "mention-suggestions");
  suggestions.id = "mention-suggestions";
  suggestions.setAttribute("role", "listbox");
  suggestions.setAttribute("aria-label", "Mention someone");
  found.forEach((person, n) => {
    const option = element("li", n === 0 ? "mention-option mention-option-active" : "mention-option", person.name);
    option.id = `mention-option-${n}`;
    option.setAttribute("role", "option");
    option.title = person.email;
    option.addEventListener("mousedown", (event) => {
      event.preventDefault(); // keep the textarea's focus and caret
      insertMention(person);
    });
    option.person = person;
    suggestions.append(option);
  });
  input.setAttribute("aria-activedescendant", "mention-option-0");
  input.after(suggestions);
}

function moveSuggestion(step) {
  const options = [...suggestions.children];
  const current = options.findIndex((o) => o.classList.contains("mention-option-active"));
  const next = (current + step + options.length) % options.length;
  options[current]?.classList.remove("mention-option-active");
  options[next].classList.add("mention-option-active");
  input.setAttribute("aria-activedescendant", options[next].id);
}

if (input && mentionable.length) {
  input.setAttribute("aria-autocomplete", "list");
  input.addEventListener("input", offerMentions);
  input.addEventListener("blur", closeSuggestions);
  // Before Enter-sends: while suggestions show, Enter and Tab pick one.
  input.addEventListener("keydown", (event) => {
    if (!suggestions) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveSuggestion(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      event.stopImmediatePropagation();
      insertMention(suggestions.querySelector(".mention-option-active").person);
    } else if (event.key === "Escape") {
      closeSuggestions();
    }
  }, { capture: true });
}

// --- Scrolling back: earlier messages load above, the view stays where it was -----------------
const earlier = document.getElementById("load-earlier");
let loadingEarlier = false;

async function loadEarlier(event) {
  event?.preventDefault();
  if (!earlier || loadingEarlier) return;
  loadingEarlier = true;
  const first = log.querySelector(".chat-message")?.dataset.messageId;
  try {
    const response = await fetch(`${earlier.dataset.earlierUrl}?before=${encodeURIComponent(first)}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const items = document.createElement("template");
    items.innerHTML = await response.text(); // the server's own rendering of the page's items
    const heightBefore = log.scrollHeight;
    log.prepend(items.content);
    log.scrollTop += log.scrollHeight - heightBefore;
    for (const node of log.querySelectorAll("time[datetime]")) showTime(node);
    groupMessages();
    const next = response.headers.get("X-Earlier");
    if (!next) earlier.parentElement.remove();
  } catch {
    location.assign(earlier.href); // the page's own way back
  } finally {
    loadingEarlier = false;
  }
}
earlier?.addEventListener("click", loadEarlier);
log.addEventListener("scroll", () => {
  if (log.scrollTop < 40 && document.body.contains(earlier)) loadEarlier();
});

showTimes();
groupMessages();
setInterval(showTimes, MINUTE);

log.scrollTop = log.scrollHeight;
setIndicator("offline");
socket.connect();
