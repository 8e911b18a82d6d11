// Admin embed page: a copy button after each snippet. Without JavaScript (or a clipboard)
// there is no button, and the snippet is plain selectable text.
(function () {
  "use strict";
  var labels = document.getElementById("copy-labels");
  if (!navigator.clipboard || !labels) return;
  var copy = labels.getAttribute("data-copy-label");
  var copied = labels.getAttribute("data-copied-label");
  document.querySelectorAll("pre[data-copy]").forEach(function (pre) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = copy;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(pre.textContent).then(function () {
        button.textContent = copied;
        setTimeout(function () { button.textContent = copy; }, 2000);
      });
    });
    pre.insertAdjacentElement("afterend", button);
  });
})();
