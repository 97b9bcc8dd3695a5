// The feedback form, enhanced (templates/storefront/feedback_widget.html). Without this script
// the form posts to /feedback and the next page says thank you; with it:
// - the message shows how many characters are left, and screen readers hear it when typing pauses;
// - a missing rating is pointed out at once, before anything is sent;
// - the form is sent to /api/v1/feedback in the background, with the page's form token, and the
//   thank-you message replaces it without leaving the page; refused fields are shown next to
//   each field, as the page without script would show them.
"use strict";

(() => {
  const MESSAGES = {
    rating: "Choose a rating from 1 to 5 stars.",
    email: "Enter an email address such as name@example.com, or leave it empty.",
    product_id: "This product is no longer in the shop.",
  };
  const characters = (text) => Array.from(text.replace(/\r\n/g, "\n").trim()).length;

  function counter(form) {
    const area = form.querySelector("[data-feedback-text]");
    const shown = form.querySelector("[data-feedback-count]");
    const spoken = form.querySelector("[data-feedback-count-live]");
    if (!area || !shown) return;
    const max = Number(shown.dataset.max);
    let pause = 0;
    const update = () => {
      const used = characters(area.value);
      const left = max - used;
      const words = left >= 0
        ? `${left.toLocaleString("en")} of ${max.toLocaleString("en")} characters left`
        : `${(-left).toLocaleString("en")} characters too many`;
      shown.textContent = words;
      shown.classList.toggle("feedback-form__count--over", left < 0);
      window.clearTimeout(pause);
      if (spoken) pause = window.setTimeout(() => { spoken.textContent = words; }, 1000);
    };
    shown.hidden = false;
    area.addEventListener("input", update);
    update();
  }

  function showErrors(form, errors) {
    const summary = form.querySelector("[data-feedback-summary]");
    for (const box of form.querySelectorAll(".field--error")) box.classList.remove("field--error");
    for (const note of form.querySelectorAll("[data-feedback-js-error]")) note.remove();
    for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
    const rating = form.querySelector("[data-feedback-error='rating']");
    if (rating) rating.hidden = true;
    summary.replaceChildren();
    if (!errors.length) return;

    const box = document.createElement("div");
    box.className = "alert alert--error error-summary";
    box.setAttribute("role", "alert");
    box.tabIndex = -1;
    const title = document.createElement("p");
    title.className = "alert__title";
    title.textContent = "There is a problem";
    const list = document.createElement("ul");
    list.className = "error-summary__list";
    box.append(title, list);
    for (const { field, message } of errors) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#field-${field}`;
      link.textContent = message;
      item.append(link);
      list.append(item);
      if (field === "rating" && rating) {
        rating.querySelector("[data-feedback-message]").textContent = message;
        rating.hidden = false;
        rating.closest("fieldset").classList.add("field--error");
        continue;
      }
      const control = form.querySelector(`#field-${CSS.escape(field)}`);
      const wrapper = control && control.closest(".field");
      if (!wrapper) continue;
      wrapper.classList.add("field--error");
      control.setAttribute("aria-invalid", "true");
      const note = document.createElement("p");
      note.className = "field__error";
      note.dataset.feedbackJsError = "";
      note.textContent = message;
      control.before(note);
    }
    summary.append(box);
    box.focus();
  }

  function messageFor(field, message) {
    if (field === "text") return `Your message ${message}.`;
    return MESSAGES[field] || "Check this field and try again.";
  }

  async function send(form, event) {
    event.preventDefault();
    if (form.dataset.submitting === "true") return;  // shelf.js marks it after this handler runs
    const data = new FormData(form);
    const failure = form.querySelector("[data-feedback-failure]");
    failure.hidden = true;
    const body = {
      rating: data.get("rating") ? Number(data.get("rating")) : null,
      text: data.get("text") || "",
      email: data.get("email") || null,
      page: data.get("page") || null,
      product_id: data.get("product_id") || null,
      website: data.get("website") || "",
    };
    // shelf.js marks the form as being sent once this event reaches the document: undo that
    // when the answer is in (or, when nothing was sent, right after the event).
    const release = () => {
      delete form.dataset.submitting;
      for (const button of form.querySelectorAll("button")) button.removeAttribute("aria-disabled");
    };
    if (body.rating === null) {  // known before asking the server: say so at once
      showErrors(form, [{ field: "rating", message: MESSAGES.rating }]);
      window.setTimeout(release, 0);
      return;
    }
    let answer;
    try {
      answer = await fetch("/api/v1/feedback", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": data.get("csrf_token") || "",
        },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch {
      release();
      failure.textContent = "Your feedback could not be sent: check your connection and try again.";
      failure.hidden = false;
      return;
    }
    release();
    if (answer.status === 201) {
      const widget = form.closest(".feedback-widget");
      const thanks = widget.querySelector("[data-feedback-thanks]");
      form.hidden = true;
      thanks.hidden = false;
      thanks.focus();
      return;
    }
    let problem = {};
    try { problem = await answer.json(); } catch { problem = {}; }
    if (answer.status === 422 && Array.isArray(problem.errors)) {
      showErrors(form, problem.errors.map((e) => ({ field: e.field, message: messageFor(e.field, e.message) })));
      return;
    }
    failure.textContent = answer.status === 429
      ? "You have sent a lot of feedback in a short time. Please wait a minute and try again."
      : answer.status === 403
        ? "This page has expired. Reload it and send your feedback again."
        : "Your feedback could not be sent. Please try again in a moment.";
    failure.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-feedback-form]")) {
      counter(form);
      form.addEventListener("submit", (event) => send(form, event));
    }
  });
})();
