// Our own script: small, optional. Every page works without it.
(function () {
  "use strict";
  const token = () => document.querySelector('meta[name="csrf-token"]')?.content;
  // htmx requests that are not form submissions still need the CSRF token.
  document.addEventListener("htmx:config:request", (evt) => {
    const t = token();
    if (t) evt.detail.ctx.request.headers["X-CSRF-Token"] = t;
  });
  // Close an open disclosure menu with Escape and return focus to its button.
  document.addEventListener("keydown", (evt) => {
    if (evt.key !== "Escape") return;
    const open = document.querySelector("details.menu[open]");
    if (open) { open.removeAttribute("open"); open.querySelector("summary")?.focus(); }
  });
})();
