// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Copy buttons: shown only where the clipboard can be reached.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copyTarget);
      var status = button.parentElement.querySelector(".copy-status");
      navigator.clipboard.writeText(source.value).then(function () {
        if (status) { status.textContent = "Copied"; }
      }, function () {
        source.select();
        if (status) { status.textContent = "Press Ctrl+C (⌘C) to copy"; }
      });
    });
  });

  // Times: shown in the reader's locale and zone; the UTC time stays in the tooltip.
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[datetime]").forEach(function (element) {
    var moment = new Date(element.getAttribute("datetime"));
    if (!isNaN(moment)) { element.textContent = format.format(moment); }
  });
})();
