// Our own script: small and optional. Every page works without it.
(function () {
  "use strict";
  const token = () => document.querySelector('meta[name="csrf-token"]')?.content;

  // htmx requests that are not form submissions still need the CSRF token.
  document.addEventListener("htmx:config:request", (evt) => {
    const t = token();
    if (t) evt.detail.ctx.request.headers["X-CSRF-Token"] = t;
  });

  // After a refused send, focus the error summary (its links lead to the fields), also when
  // htmx swapped the form in and for browsers that ignore autofocus on a non-control.
  const focusErrors = (root) => {
    const summary = root.querySelector(".error-summary");
    if (summary && document.activeElement !== summary) summary.focus();
  };
  document.addEventListener("DOMContentLoaded", () => focusErrors(document));
  document.addEventListener("htmx:after:swap", (evt) => focusErrors(evt.target));

  // A form marked data-warn-unsaved asks before the page is left with changes not saved.
  let unsaved = null;
  document.addEventListener("input", (evt) => {
    const form = evt.target.closest?.("form[data-warn-unsaved]");
    if (form && evt.target.name) unsaved = form;
  });
  document.addEventListener("submit", (evt) => {
    if (evt.target === unsaved) unsaved = null;
  });
  window.addEventListener("beforeunload", (evt) => {
    if (unsaved && document.body.contains(unsaved)) evt.preventDefault();
  });

  // The installable app: a service worker for cached static files and the offline page.
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", () => navigator.serviceWorker.register("/sw.js"));
  }
  // "Meg" offers to install it where the browser can (Chromium's beforeinstallprompt).
  window.addEventListener("beforeinstallprompt", (evt) => {
    const hint = document.getElementById("install-hint");
    if (!hint) return;
    evt.preventDefault();
    hint.hidden = false;
    hint.querySelector("button")?.addEventListener("click", async () => {
      evt.prompt();
      await evt.userChoice;
      hint.hidden = true;
    }, { once: true });
  });

  // Close an open disclosure menu with Escape and return focus to its button.
  document.addEventListener("keydown", (evt) => {
    if (evt.key !== "Escape") return;
    const open = document.querySelector("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary")?.focus();
    }
  });

  // Live character counter for text areas that name one in data-counter.
  const updateCounter = (area) => {
    const out = document.getElementById(area.dataset.counter);
    if (!out) return;
    const max = area.maxLength > 0 ? area.maxLength : 600;
    const n = [...area.value].length;
    out.textContent = out.textContent.replace(/\d+(\D+)\d+/, `${n}$1${max}`);
  };
  document.addEventListener("input", (evt) => {
    if (evt.target.matches("textarea[data-counter]")) updateCounter(evt.target);
  });

  // A colleague ticked in the search results moves to the chosen list, so a new
  // search does not take them away.
  document.addEventListener("change", (evt) => {
    const box = evt.target;
    if (!box.matches("#people-results input[name=recipients]") || !box.checked) return;
    const chosen = document.getElementById("chosen");
    const item = box.closest("li");
    if (chosen && item) {
      chosen.appendChild(item);
      box.focus();
    }
  });
})();
