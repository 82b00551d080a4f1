// The notification bell in every page's navigation: its unread count follows the user's socket
// in every open tab, and is fetched afresh on each (re)connect, since pushes may have been missed.
import { LiveSocket } from "./live-socket.js";

const bell = document.getElementById("notification-bell");
const badge = bell?.querySelector("[data-unread-count]");
const list = document.getElementById("notification-list");
// A count fetched over HTTP may be older than one pushed while the request was in flight.
let pushesSeen = 0;

function showCount(count) {
  badge.textContent = String(count);
  badge.hidden = count === 0;
}

async function refreshCount() {
  const pushesBefore = pushesSeen;
  try {
    const response = await fetch(bell.dataset.checkUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { unread } = await response.json();
    if (pushesSeen === pushesBefore) showCount(unread);
  } catch {
    // Offline: the next reconnect refreshes again.
  }
}

// The notifications page shows new ones at the top as they come; text goes in as text only.
function prepend(notification) {
  if (!list || list.querySelector(`[data-notification-id="${Number(notification.id)}"]`)) return;
  const item = document.createElement("li");
  item.className = "notification notification-unread";
  item.dataset.notificationId = notification.id;
  const title = document.createElement("p");
  title.className = "notification-title";
  if (notification.link?.startsWith("/")) {
    const link = document.createElement("a");
    link.href = notification.link;
    link.textContent = notification.title;
    title.append(link);
  } else {
    title.textContent = notification.title;
  }
  item.append(title);
  if (notification.body) {
    const body = document.createElement("p");
    body.className = "notification-body";
    body.textContent = notification.body;
    item.append(body);
  }
  list.hidden = false;
  document.getElementById("no-notifications")?.remove();
  list.prepend(item);
}

function handle(frame) {
  if (frame.type === "ready") {
    refreshCount();
  } else if (frame.type === "notification.created" || frame.type === "notification_count.changed") {
    pushesSeen += 1;
    showCount(frame.data.unread);
    if (frame.type === "notification.created") prepend(frame.data.notification);
  }
}

if (bell && badge) {
  const socket = new LiveSocket(bell.dataset.wsPath, { onFrame: handle, resume: false });
  addEventListener("pagehide", () => socket.stop());
  socket.connect();
}
