// The admin console's script: three enhancements, and every page works without them.
// - The products table gets a "select all" box and a live count of the chosen products.
// - A new API key's secret gets a Copy button (without it, the field is selected for Ctrl+C).
// - A flag's "evaluate for this context" form answers as one types: it fetches the same page the
//   form's GET would load and takes its answer (without JavaScript, the form loads that page).
"use strict";

function enhanceSelection(table) {
  const boxes = [...table.querySelectorAll('tbody input[type="checkbox"][name="product"]')];
  const cell = table.querySelector("thead .admin-table__select");
  const form = boxes.length ? document.getElementById(boxes[0].getAttribute("form")) : null;
  if (!cell || !form) return;
  const all = document.createElement("input");
  all.type = "checkbox";
  all.className = "checkbox";
  all.setAttribute("aria-label", "Select all products on this page");
  cell.replaceChildren(all);
  const count = document.createElement("p");
  count.className = "bulk-bar__count";
  count.setAttribute("role", "status");
  form.append(count);
  const update = () => {
    const chosen = boxes.filter((box) => box.checked).length;
    all.checked = chosen === boxes.length;
    all.indeterminate = chosen > 0 && chosen < boxes.length;
    count.textContent = chosen ? `${chosen} of ${boxes.length} selected` : "";
  };
  all.addEventListener("change", () => {
    for (const box of boxes) box.checked = all.checked;
    update();
  });
  for (const box of boxes) box.addEventListener("change", update);
  update();
}

function enhanceCopy(source) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button button--primary";
  button.textContent = "Copy";
  const said = document.createElement("span");
  said.setAttribute("role", "status");
  said.className = "muted";
  button.addEventListener("click", async () => {
    source.select();
    try {
      await navigator.clipboard.writeText(source.value);
      said.textContent = "Copied.";
    } catch {
      said.textContent = "Press Ctrl+C (or ⌘+C) to copy the selected key.";
    }
  });
  source.addEventListener("focus", () => source.select());
  source.after(button, said);
}

function enhancePreview(form) {
  const section = form.closest("section");
  let timer = 0;
  let asked = 0;
  const fetchAnswer = async () => {
    const ticket = ++asked;
    const url = new URL(form.action);
    url.hash = "";
    url.search = new URLSearchParams(new FormData(form)).toString();
    let html;
    try {
      html = await (await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })).text();
    } catch {
      return null;
    }
    if (ticket !== asked) return null;
    history.replaceState(null, "", `${url.pathname}${url.search}#preview`);
    return new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fresh = await fetchAnswer();
    if (!fresh) return;
    section.replaceWith(fresh);
    const again = fresh.querySelector("form[data-flag-preview]");
    enhancePreview(again);
    again.querySelector("button").focus();
  });
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const fresh = await fetchAnswer();
      const result = section.querySelector("[data-flag-preview-result]");
      if (!fresh || !result) return;
      const problems = [...fresh.querySelectorAll(".field__error")].map((error) => {
        const line = document.createElement("p");
        line.className = "field__error";
        line.textContent = error.textContent.trim();
        return line;
      });
      const answer = fresh.querySelector("[data-flag-preview-result]");
      result.replaceChildren(...(problems.length ? problems : answer.childNodes));
    }, 350);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table[data-select-table]")) enhanceSelection(table);
  for (const source of document.querySelectorAll("[data-copy-source]")) enhanceCopy(source);
  for (const form of document.querySelectorAll("form[data-flag-preview]")) enhancePreview(form);
});
