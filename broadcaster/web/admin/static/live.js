// Keeps a page's live part up to date without reloading the page: optional; without it the
// page has a "Refresh" link. Every few seconds (while the tab is visible) the page is fetched
// again and each [data-live] element whose content changed is replaced in place; its
// data-summary, when it changed, is announced politely in the page's role="status" region.
(function () {
  "use strict";
  var parts = document.querySelectorAll("[data-live]");
  var status = document.getElementById("live-status");
  if (!parts.length || !status || !window.fetch || !window.DOMParser) return;
  var seconds = Number(parts[0].dataset.every || "5");
  function poll() {
    if (document.hidden) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var said = [];
        parts.forEach(function (part) {
          var next = fresh.getElementById(part.id);
          if (!next || next.innerHTML === part.innerHTML) return;
          var summary = next.dataset.summary;
          if (summary && summary !== part.dataset.summary) said.push(summary);
          part.innerHTML = next.innerHTML;
          part.dataset.summary = summary || "";
        });
        if (said.length) status.textContent = said.join(" ");
      })
      .catch(function () { /* the next poll tries again */ });
  }
  document.querySelectorAll("[data-live-fallback]").forEach(function (el) { el.hidden = true; });
  setInterval(poll, seconds * 1000);
})();
