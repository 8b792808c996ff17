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

  // Forms that undo something ask first (the server-rendered confirmation pages do the same
  // without this script).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  // External ID: show what will be saved as it is typed, by the rules the server applies
  // (thrivecart/items.py read_external_id); the server's answer is the one that counts.
  var externalId = document.getElementById("external_id");
  var itemType = document.getElementById("item_type");
  var preview = document.getElementById("external_id-preview");
  if (externalId && itemType && preview) {
    var readExternalId = function (text, type) {
      text = text.trim();
      if (!text) { return "no External ID"; }
      var key = /^(product|upsell|downsell|bump)[-_]0*([1-9][0-9]{0,17})$/i.exec(text);
      if (key) { return key[1].toLowerCase() + "-" + key[2]; }
      if (/^[0-9]+$/.test(text)) {
        return /^0*[1-9][0-9]{0,17}$/.test(text) ? type + "-" + String(Number(text)) : null;
      }
      if (text.indexOf("://") !== -1 || text.indexOf("/") !== -1 || /^(www|thrivecart)\./i.test(text)) {
        var url;
        try { url = new URL(text.indexOf("://") !== -1 ? text : "https://" + text); } catch (e) { return null; }
        var where = (url.pathname + "/" + url.hash.replace(/^#/, "").split("?")[0]).toLowerCase();
        var numbers = where.match(/[0-9]+/g);
        if (!numbers || /^0+$/.test(numbers[numbers.length - 1])) { return null; }
        var words = where.match(/[a-z]+/g) || [];
        var urlType = null;
        for (var i = words.length - 1; i >= 0 && !urlType; i--) {
          var word = words[i].replace(/s$/, "");
          if (word === "upsell" || word === "downsell") { urlType = word; }
        }
        return (urlType || type) + "-" + String(Number(numbers[numbers.length - 1]));
      }
      return null;
    };
    // Several ids, comma-separated: each is read alone, and each is saved once.
    var readExternalIds = function (text, type) {
      var keys = [];
      var parts = text.split(",");
      for (var i = 0; i < parts.length; i++) {
        if (!parts[i].trim()) { continue; }
        var key = readExternalId(parts[i], type);
        if (!key) { return null; }
        if (keys.indexOf(key) === -1) { keys.push(key); }
      }
      return keys.length ? keys.join(", ") : "no External ID";
    };
    var update = function () {
      var result = readExternalIds(externalId.value, itemType.value);
      preview.textContent = result || "not an item id yet";
    };
    externalId.addEventListener("input", update);
    itemType.addEventListener("change", update);
    // Whatever was typed before this script ran (or restored by the browser) shows too.
    if (externalId.value.trim()) { update(); }
  }
})();
