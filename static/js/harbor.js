for (const form of document.querySelectorAll("form[data-auto-submit]")) {
  const button = form.querySelector("button[type=submit]");
  if (button) button.hidden = true;
  form.addEventListener("change", () => form.requestSubmit());
}

// The header's menu folds on narrow screens (static/css/harbor.css); the toggle exists only
// where this script runs, so without it the menu simply stays open.
const toggle = document.querySelector(".nav-toggle");
const menu = document.getElementById("site-nav");
if (toggle && menu) {
  document.documentElement.classList.add("nav-folds");
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("site-nav-open", open);
  });
}
