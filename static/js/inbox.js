// The workflow list, live (docs/realtime.md, `ws/inbox/`): a new message moves its workflow to
// the top with its preview and, if someone else wrote it, one more unread; a workflow read in
// another tab or device clears here too, and the home page's total follows. The page is
// complete without this module.

import { LiveSocket } from "./live-socket.js";

const rows = document.getElementById("workflow-rows");
const me = rows.dataset.userEmail;
const summary = document.querySelector("[data-total-unread]"); // the home page's
let totalUnread = Number(summary?.dataset.totalUnread ?? 0);

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function showTotal() {
  if (!summary) return;
  const workflows = rows.querySelectorAll(".workflow-row-unread").length;
  summary.textContent = totalUnread === 0
    ? "You are all caught up."
    : `${plural(totalUnread, "unread message")}${workflows ? ` in ${plural(workflows, "workflow")} below` : ""}.`;
}

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
    if (row.dataset.muted !== "true") totalUnread += 1;
  }
  rows.prepend(row);
  showTotal();
}

const socket = new LiveSocket("/ws/inbox/", {
  cursor: null, // the page is the state as of now; a reconnect replays what it missed
  onFrame(frame) {
    if (frame.type === "replay.truncated") location.reload();
    else if (frame.type === "message.created") onMessage(frame.data.message);
    else if (frame.type === "read_state.updated") {
      const row = rowOf(frame.data.read_state.workflow_id);
      if (row) showUnread(row, frame.data.read_state.unread_count);
      totalUnread = frame.data.total_unread;
      showTotal();
    }
  },
});
socket.connect();
