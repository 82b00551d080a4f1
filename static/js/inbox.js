// The workflow list, live (docs/realtime.md, `ws/inbox/`): a new message moves its workflow to
// the top with its preview and, if someone else wrote it, one more unread; a workflow read in
// another tab or device clears here too. The page is complete without this module.

import { LiveSocket } from "./live-socket.js";

const rows = document.getElementById("workflow-rows");
const me = rows.dataset.userEmail;

function rowOf(workflowId) {
  return rows.querySelector(`[data-workflow-id="${CSS.escape(String(workflowId))}"]`);
}

function showUnread(row, count) {
  row.querySelector("[data-unread-count]").textContent = String(count);
  row.querySelector("[data-unread]").hidden = count === 0;
  row.classList.toggle("workflow-row-unread", count > 0 && row.dataset.muted !== "true");
}

function onMessage(message) {
  const row = rowOf(message.workflow_id);
  if (!row) return; // on another page of the list, or filtered out
  const preview = row.querySelector("[data-preview]");
  const author = document.createElement("strong");
  author.textContent = `${message.sender_name ?? "Harbor"}:`;
  preview.replaceChildren(author, ` ${message.content.slice(0, 120)}`);
  const time = row.querySelector("[data-activity]");
  time.dateTime = message.created_at;
  time.textContent = String(message.created_at).slice(0, 16).replace("T", " ");
  if (message.sender !== me) {
    showUnread(row, Number(row.querySelector("[data-unread-count]").textContent) + 1);
  }
  rows.prepend(row);
}

const socket = new LiveSocket("/ws/inbox/", {
  cursor: null, // the page is the state as of now; a reconnect replays what it missed
  onFrame(frame) {
    if (frame.type === "replay.truncated") location.reload();
    else if (frame.type === "message.created") onMessage(frame.data.message);
    else if (frame.type === "read_state.updated") {
      const row = rowOf(frame.data.read_state.workflow_id);
      if (row) showUnread(row, frame.data.read_state.unread_count);
    }
  },
});
socket.connect();
