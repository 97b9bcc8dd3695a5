// Shelf's only script, and every page works without it. It adds two small things:
// - a form that is being posted cannot be posted twice by an impatient second click
//   (which would add a product to the cart twice);
// - a form's error summary takes the focus, so a screen reader reads what needs fixing.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (form.dataset.submitting === "true") {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "true";
  for (const button of form.querySelectorAll("button")) button.setAttribute("aria-disabled", "true");
});

// A page restored from the back-forward cache must accept its forms again.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-submitting]")) {
    delete form.dataset.submitting;
    for (const button of form.querySelectorAll("button")) button.removeAttribute("aria-disabled");
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(".error-summary");
  if (summary instanceof HTMLElement) summary.focus();
});
