// Upgrade each static chart (SVG image) to the interactive Vega-Lite chart whose
// specification sits beside it. Vega, Vega-Lite and vega-embed come from
// assets/vega/vega-bundle.js on this site: nothing is fetched from elsewhere.
(function () {
  "use strict";
  function upgrade(element) {
    var url = element.getAttribute("data-spec");
    var options = {
      renderer: "svg",
      // Export buttons only: the editor link would leave the site.
      actions: { export: true, source: false, compiled: false, editor: false },
    };
    return window.vegaEmbed(element, url, options).then(function () {
      element.classList.add("vega-ready");
      var figure = element.closest("figure");
      var image = figure ? figure.querySelector("img") : null;
      if (image) { image.style.display = "none"; }
    }).catch(function (error) {
      element.classList.add("vega-failed");
      element.textContent = "Interactive chart unavailable (" + error.message + ").";
      console.error("chart " + url + ": " + error);
    });
  }
  function start() {
    if (typeof window.vegaEmbed !== "function") {
      console.error("vega-embed did not load: static charts only");
      return;
    }
    var elements = document.querySelectorAll("div.vega-chart[data-spec]");
    var pending = [];
    for (var i = 0; i < elements.length; i++) { pending.push(upgrade(elements[i])); }
    // Lets a test (or a person) know when every chart has been tried.
    Promise.all(pending).then(function () { document.documentElement.setAttribute("data-charts-done", "1"); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
