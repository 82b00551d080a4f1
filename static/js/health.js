// The staff status page brings itself up to date every few seconds: it fetches the page again
// and swaps in the new report, so scrolling stays put and, unlike a <meta refresh>, the
// updates can be paused (WCAG 2.2.1). Hidden tabs do not poll.
const report = document.getElementById("health-report");
const toggle = document.getElementById("health-pause");
const seconds = Number(report?.dataset.refreshSeconds) || 10;
let paused = false;

async function refresh() {
  if (paused || document.hidden) return;
  try {
    const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("health-report");
    // No report in the answer: the session ended and this is the login page; keep the last one.
    if (fresh) report.replaceChildren(...fresh.childNodes);
  } catch {
    // Offline or Harbor down: the next turn tries again.
  }
}

if (report && toggle) {
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    paused = !paused;
    toggle.textContent = paused ? "Resume updates" : "Pause updates";
    toggle.setAttribute("aria-pressed", String(paused));
    if (!paused) refresh();
  });
  setInterval(refresh, seconds * 1000);
}
