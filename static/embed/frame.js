// Inside the widget's iframe: tell the embedding page how tall the content is, so the
// frame never scrolls. Messages go only to configured origins, never to a wildcard.
(function () {
  "use strict";
  if (window.parent === window) return;
  var allowed = (document.body.getAttribute("data-origins") || "").split(" ").filter(Boolean);
  var parent = "";
  if (location.ancestorOrigins && location.ancestorOrigins.length) {
    parent = location.ancestorOrigins[0];
  } else if (document.referrer) {
    try { parent = new URL(document.referrer).origin; } catch (e) { parent = ""; }
  }
  // Parent unknown (no ancestorOrigins, no referrer): the browser delivers a message only
  // to a window of its target origin, so offering it to each configured origin is safe.
  var targets = parent ? (allowed.indexOf(parent) < 0 ? [] : [parent]) : allowed;
  if (!targets.length) return;
  var last = 0;
  function send() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height === last) return;
    last = height;
    targets.forEach(function (origin) {
      window.parent.postMessage({ type: "tod-embed:height", height: height }, origin);
    });
  }
  if (window.ResizeObserver) new ResizeObserver(send).observe(document.documentElement);
  window.addEventListener("load", send);
  send();
})();
