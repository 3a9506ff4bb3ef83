// The campaign editor's extras; the page works the same without them.
// - Live preview: as the author types, the form is posted to the preview URL (nothing is
//   saved) and the renditions it answers replace the panel's content.
// - Autosave: the form is kept server-side as a draft a few seconds after each change; when
//   the session has expired the answer says where to sign in, and the draft waits there.
// - Toolbar: Markdown for a heading, bold, a list, a link, a table; the insert buttons put
//   the campaign's data (a contacts table, a contact, a portal address) at the cursor.
// - Counts: characters and reading time of each body; a file too large is refused at once.
(function () {
  "use strict";
  var panel = document.getElementById("live-preview");
  var form = panel && (document.getElementById(panel.dataset.form || "") || panel.previousElementSibling);
  if (!panel || !form || !window.fetch) return;
  panel.hidden = false;
  var target = panel.querySelector("div");
  var timer = null;
  var saveTimer = null;
  var latest = 0;

  function fields() {
    var data = new FormData(form);
    data.delete("upload");
    return data;
  }

  function refresh() {
    var ticket = ++latest;
    fetch(panel.dataset.url, { method: "POST", body: fields(), credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (ticket !== latest) return; // an older answer arriving late
        target.innerHTML = html;
      })
      .catch(function () { /* the buttons still work */ });
  }

  var status = document.getElementById("autosave");
  function autosave() {
    if (!panel.dataset.draft) return;
    fetch(panel.dataset.draft, { method: "POST", body: fields(), credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!status) return;
          if (response.status === 401 && answer.signin) {
            status.textContent = "";
            var link = document.createElement("a");
            link.href = answer.signin;
            link.textContent = panel.dataset.expired;
            status.appendChild(link);
          } else if (response.ok) {
            var now = new Date();
            var time = ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
            status.textContent = panel.dataset.kept.replace("%(time)s", time);
          }
        });
      })
      .catch(function () { /* Save still works */ });
  }

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 700);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(autosave, 2000);
  }
  form.addEventListener("input", changed);
  panel.addEventListener("toggle", function () { if (panel.open) refresh(); });

  function counts(area) {
    var shown = document.getElementById(area.id + "-counts");
    if (!shown) return;
    var words = area.value.replace(/\{[{%][\s\S]*?[%}]\}/g, " ").split(/\s+/).filter(Boolean).length;
    shown.textContent = shown.dataset.format
      .replace("%(chars)s", area.value.length)
      .replace("%(minutes)s", Math.max(1, Math.round(words / 200)));
  }

  function insert(area, before, after, placeholder) {
    var start = area.selectionStart, end = area.selectionEnd;
    var chosen = area.value.slice(start, end) || placeholder || "";
    area.setRangeText(before + chosen + (after || ""), start, end, "end");
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function lineStart(area, prefix) {
    var start = area.value.lastIndexOf("\n", area.selectionStart - 1) + 1;
    area.setRangeText(prefix, start, start, "end");
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  var MARKDOWN = {
    heading: function (a) { lineStart(a, "## "); },
    bold: function (a) { insert(a, "**", "**", "…"); },
    list: function (a) { lineStart(a, "- "); },
    link: function (a) { insert(a, "[", "](https://)", "…"); },
    table: function (a) { insert(a, "\n| … | … |\n| --- | --- |\n| … | … |\n", "", " "); },
  };

  Array.prototype.forEach.call(document.querySelectorAll(".toolbar"), function (bar) {
    bar.hidden = false;
    var area = document.getElementById(bar.dataset.for);
    bar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-md]");
      if (button && area) MARKDOWN[button.dataset.md](area);
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("button[data-snippet]"), function (button) {
    button.addEventListener("click", function (event) {
      var area = document.getElementById(button.dataset.for);
      if (!area) return;
      event.preventDefault(); // without JavaScript the button asks the server to add it
      insert(area, "\n" + button.dataset.snippet + "\n", "", "");
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("textarea.body"), function (area) {
    area.addEventListener("input", function () { counts(area); });
  });
  var upload = document.getElementById("upload");
  if (upload) {
    upload.addEventListener("change", function () {
      var big = Array.prototype.some.call(upload.files, function (f) { return f.size > Number(upload.dataset.max); });
      upload.setCustomValidity(big ? upload.dataset.tooLarge : "");
      upload.reportValidity();
    });
  }
})();
