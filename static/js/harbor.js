for (const form of document.querySelectorAll("form[data-auto-submit]")) {
  const button = form.querySelector("button[type=submit]");
  if (button) button.hidden = true;
  form.addEventListener("change", () => form.requestSubmit());
}
