// Upgrade each static chart (SVG image) to the interactive Vega-Lite chart whose
// specification sits beside it. Vega, Vega-Lite and vega-embed come from
// assets/vega/vega-bundle.js on this site: nothing is fetched from elsewhere.
//
// Each chart has two specifications, laid out in Python for a wide and a narrow
// column (labels are placed for one size, so the chart is never stretched): the
// narrow one is used below NARROW_BELOW px and the chart is redrawn when the
// column crosses that width. In Material's dark scheme the chart's own colours
// are swapped for the dark ones the specification lists (usermeta.darkColours)
// and the text and grid colours below; the static SVGs stay light.
(function () {
  "use strict";
  var NARROW_BELOW = 640;
  var DARK = {
    text: "#e6e6e6", muted: "#a0a4ad", grid: "#3b3f4a", domain: "#8a8f99",
  };

  function isDark() {
    return document.body && document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function deepReplace(value, colours) {
    if (typeof value === "string") { return Object.prototype.hasOwnProperty.call(colours, value) ? colours[value] : value; }
    if (Array.isArray(value)) { return value.map(function (v) { return deepReplace(v, colours); }); }
    if (value && typeof value === "object") {
      var out = {};
      Object.keys(value).forEach(function (key) { out[key] = deepReplace(value[key], colours); });
      return out;
    }
    return value;
  }

  function darken(spec) {
    var colours = (spec.usermeta && spec.usermeta.darkColours) || {};
    var copy = deepReplace(spec, colours);
    var config = copy.config || {};
    config.background = null;  // the page's own background shows through
    config.view = Object.assign({}, config.view, { stroke: DARK.grid });
    config.axis = Object.assign({}, config.axis, {
      labelColor: DARK.text, titleColor: DARK.text, gridColor: DARK.grid, domainColor: DARK.domain,
      tickColor: DARK.domain,
    });
    config.legend = Object.assign({}, config.legend, { labelColor: DARK.text, titleColor: DARK.text });
    config.title = Object.assign({}, config.title, { color: DARK.text });
    var style = Object.assign({}, config.style);
    style["data-label"] = { color: DARK.text };
    style.leader = { color: DARK.muted };
    style.fit = { color: DARK.text };
    style.interval = { color: DARK.muted };
    style.front = { color: DARK.text };
    config.style = style;
    copy.config = config;
    return copy;
  }

  var specs = {};
  function load(url) {
    if (!specs[url]) {
      specs[url] = fetch(url).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
    }
    return specs[url];
  }

  function chosenUrl(element) {
    var narrow = element.getAttribute("data-spec-narrow");
    // The text column's width (the figure itself shrinks to its content).
    var column = element.closest(".md-content__inner") || element.closest("article") || document.body;
    var width = column.clientWidth;
    return narrow && width < NARROW_BELOW ? narrow : element.getAttribute("data-spec");
  }

  function draw(element) {
    var url = chosenUrl(element);
    var dark = isDark();
    var key = url + (dark ? "#dark" : "#light");
    if (element.getAttribute("data-drawn") === key) { return Promise.resolve(); }
    element.setAttribute("data-drawn", key);
    return load(url).then(function (spec) {
      var options = {
        renderer: "svg",
        // Export buttons only: the editor link would leave the site. The menu sits
        // above the chart (extra.css), so it covers nothing.
        actions: { export: true, source: false, compiled: false, editor: false },
      };
      if (element._view) { element._view.finalize(); }
      return window.vegaEmbed(element, dark ? darken(spec) : spec, options);
    }).then(function (result) {
      element._view = result.view;
      element.classList.add("vega-ready");
      element.classList.remove("vega-failed");
      var figure = element.closest("figure");
      var image = figure ? figure.querySelector("img") : null;
      if (image) { image.style.display = "none"; }
    }).catch(function (error) {
      element.classList.add("vega-failed");
      element.textContent = "Interactive chart unavailable (" + error.message + ").";
      console.error("chart " + url + ": " + error);
    });
  }

  function drawAll() {
    var elements = document.querySelectorAll("div.vega-chart[data-spec]");
    var pending = [];
    for (var i = 0; i < elements.length; i++) { pending.push(draw(elements[i])); }
    return Promise.all(pending);
  }

  function start() {
    if (typeof window.vegaEmbed !== "function") {
      console.error("vega-embed did not load: static charts only");
      return;
    }
    // Lets a test (or a person) know when every chart has been tried.
    drawAll().then(function () { document.documentElement.setAttribute("data-charts-done", "1"); });
    // The palette toggle changes this attribute: redraw in the new scheme.
    new MutationObserver(function () { drawAll(); })
      .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(drawAll, 150);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
