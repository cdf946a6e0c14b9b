// An employee's signature page: "Copy signature" puts the rendered signature on the clipboard as rich HTML
// (with its plain text beside it), ready to paste into a mail client's signature editor; "Copy HTML source"
// copies the markup itself. The signature is read from the page's "HTML source" and "Plain text" boxes, so
// copying needs nothing but this page (the framed preview is another document the page cannot reach).
(function () {
  "use strict";

  var PASTE_INTO = "paste it into the signature settings of Outlook, Apple Mail or Gmail (steps below).";

  // Browsers without ClipboardItem (or that refuse it) still run the copy event: fill it ourselves.
  function copyWithEvent(data) {
    var handled = false;
    function onCopy(event) {
      Object.keys(data).forEach(function (type) { event.clipboardData.setData(type, data[type]); });
      event.preventDefault();
      handled = true;
    }
    document.addEventListener("copy", onCopy);
    try {
      return document.execCommand("copy") && handled;
    } catch (error) {
      return false;
    } finally {
      document.removeEventListener("copy", onCopy);
    }
  }

  function copy(data) {
    var clipboard = navigator.clipboard;
    if (window.ClipboardItem && clipboard && clipboard.write) {
      var parts = {};
      Object.keys(data).forEach(function (type) { parts[type] = new Blob([data[type]], {type: type}); });
      return clipboard.write([new window.ClipboardItem(parts)]).catch(function () {
        if (!copyWithEvent(data)) {
          throw new Error("copy refused");
        }
      });
    }
    return copyWithEvent(data) ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function say(status, message, failed) {
    // Emptied first, so that the same message after a second press is announced again.
    status.textContent = "";
    status.className = "sig-copy-status";
    window.setTimeout(function () {
      status.className = "sig-copy-status notice " + (failed ? "notice-error" : "notice-success");
      status.textContent = message;
    }, 50);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) {
      return;
    }
    var compose = button.getAttribute("data-compose");
    var source = document.getElementById("sig-" + compose + "-html");
    var text = document.getElementById("sig-" + compose + "-text");
    var status = document.getElementById("copy-status-" + compose);
    if (!source || !text || !status) {
      return;
    }
    if (button.getAttribute("data-copy") === "rich") {
      copy({"text/html": source.value, "text/plain": text.textContent}).then(function () {
        say(status, "Signature copied — " + PASTE_INTO, false);
      }, function () {
        say(status, "The browser did not let the page copy the signature. Click into the signature above, select " +
            "all of it (Ctrl+A, on a Mac ⌘A) and copy it (Ctrl+C, on a Mac ⌘C).", true);
      });
    } else {
      copy({"text/plain": source.value}).then(function () {
        say(status, "HTML source copied — paste it where a signature's HTML is asked for.", false);
      }, function () {
        source.closest("details").open = true;
        source.focus();
        source.select();
        say(status, "The browser did not let the page copy the HTML. It is selected in “HTML source” below: " +
            "copy it with Ctrl+C (on a Mac ⌘C).", true);
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy-actions]"), function (actions) {
      actions.hidden = false;
    });
  });
})();
