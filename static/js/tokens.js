// The tokens page: a Copy button beside a new token's secret (the button stays hidden without
// scripts, and the field can still be selected and copied by hand).
const status = document.querySelector("[data-copy-status]");

function say(text) {
  if (status) status.textContent = text;
}

async function copy(field) {
  try {
    // The asynchronous clipboard exists only in secure contexts (HTTPS, localhost).
    await navigator.clipboard.writeText(field.value);
    return true;
  } catch {
    field.focus();
    field.select();
    return document.execCommand?.("copy") ?? false;
  }
}

for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    if (await copy(field)) {
      button.textContent = "Copied";
      say("Token copied to the clipboard.");
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    } else {
      field.focus();
      field.select();
      say("Could not copy: the token is selected, press Ctrl+C (⌘C on a Mac) to copy it.");
    }
  });
}

// Clicking into the field selects all of it: a partial token is the commonest copy mistake.
for (const field of document.querySelectorAll("input.token-value")) {
  field.addEventListener("focus", () => field.select());
}
