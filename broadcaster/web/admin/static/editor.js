// Live preview for the campaign editor: optional; the page works the same without it.
// As the author types, the form is posted to the preview URL (nothing is saved) and the
// renditions it answers replace the panel's content.
(function () {
  "use strict";
  var panel = document.getElementById("live-preview");
  var form = panel && panel.previousElementSibling;
  if (!panel || !form || !window.fetch) return;
  panel.hidden = false;
  var target = panel.querySelector("div");
  var timer = null;
  var latest = 0;
  function refresh() {
    var ticket = ++latest;
    fetch(panel.dataset.url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (ticket !== latest) return; // an older answer arriving late
        target.innerHTML = html;
      })
      .catch(function () { /* the buttons still work */ });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 700);
  });
  panel.addEventListener("toggle", function () { if (panel.open) refresh(); });
})();
