// <script src="https://…/embed/{org}/widget.js" async></script> puts the widget's iframe
// right after itself and follows the height the frame reports. The app fills in the config.
(function (config) {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.parentNode || !config.src) return;
  var frame = document.createElement("iframe");
  frame.src = config.src;
  frame.title = config.title;
  frame.setAttribute("loading", "lazy");
  frame.style.display = "block";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = config.height + "px";
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.origin !== config.origin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.type !== "tod-embed:height") return;
    var height = Number(data.height);
    if (height > 0 && height < 20000) frame.style.height = Math.ceil(height) + "px";
  });
})(/*CONFIG*/ { "src": "", "origin": "", "title": "", "height": 420 } /*CONFIG*/);
