// maverick ui: draw the diagrams (vendored Mermaid, strict security level) and keep a
// running run's page current by polling its small JSON endpoint until the run ends
// (or its process is found gone).
(function () {
  "use strict";

  var POLL_MS = 500;

  function drawDiagrams() {
    if (!window.mermaid) {
      return;
    }
    var nodes = document.querySelectorAll("pre.mermaid:not([data-processed])");
    if (nodes.length) {
      window.mermaid.run({ nodes: nodes }).catch(function (error) {
        nodes.forEach(function (node) {
          node.classList.add("diagram-error");
          node.setAttribute("title", String(error));
        });
      });
    }
  }

  function follow(run) {
    var url = run.getAttribute("data-live");
    function poll() {
      if (run.getAttribute("data-follow") !== "yes") {
        return;
      }
      var query = "?digest=" + encodeURIComponent(run.getAttribute("data-digest") || "");
      fetch(url + query, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (answer) {
          if (answer && answer.html !== undefined) {
            // server-rendered and autoescaped: run values arrive as text, never as markup
            run.innerHTML = answer.html;
            run.setAttribute("data-digest", answer.digest);
            drawDiagrams();
          }
          if (answer) {
            run.setAttribute("data-follow", answer.follow ? "yes" : "no");
          }
        })
        .catch(function () {})
        .then(function () {
          window.setTimeout(poll, POLL_MS);
        });
    }
    window.setTimeout(poll, POLL_MS);
  }

  function start() {
    if (window.mermaid) {
      window.mermaid.initialize({
        startOnLoad: false,
        securityLevel: "strict",
        theme: "neutral",
        flowchart: { htmlLabels: false },
      });
    }
    drawDiagrams();
    var run = document.getElementById("run");
    if (run) {
      follow(run);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
