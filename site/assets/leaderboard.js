// Sort and filter the leaderboard tables (models/index.md) in the page itself,
// offline: click a header to sort by it (again to reverse); type a name or pick a
// family to filter. Numbers are read back from the cells, which start with them;
// a cell without a number ("not measured", "oom") always sorts last.
(function () {
  "use strict";
  function numberIn(text) {
    var match = text.replace(/,/g, "").match(/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?/i);
    return match ? parseFloat(match[0]) : null;
  }
  function enhance(box) {
    var table = box.querySelector("table");
    if (!table || !table.tHead || !table.tBodies.length) { return; }
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, index) { row.dataset.order = index; });
    var family = headers.findIndex(function (h) { return h.textContent.trim() === "family"; });

    var controls = document.createElement("div");
    controls.className = "leaderboard-filters";
    var name = document.createElement("input");
    name.type = "search";
    name.placeholder = "filter by name";
    name.setAttribute("aria-label", "filter by model name");
    var select = document.createElement("select");
    select.setAttribute("aria-label", "filter by family");
    var families = rows.map(function (r) { return r.cells[family].textContent.trim(); })
      .filter(function (v, i, all) { return all.indexOf(v) === i; }).sort();
    ["all families"].concat(families).forEach(function (f, i) {
      var option = document.createElement("option");
      option.value = i === 0 ? "" : f;
      option.textContent = f;
      select.appendChild(option);
    });
    var shown = document.createElement("span");
    controls.append(name, " ", select, " ", shown);
    box.insertBefore(controls, box.firstChild);
    function filter() {
      var query = name.value.trim().toLowerCase();
      var count = 0;
      rows.forEach(function (row) {
        var keep = row.cells[0].textContent.toLowerCase().indexOf(query) !== -1
          && (!select.value || row.cells[family].textContent.trim() === select.value);
        row.hidden = !keep;
        count += keep ? 1 : 0;
      });
      shown.textContent = count + " of " + rows.length + " models";
    }
    name.addEventListener("input", filter);
    select.addEventListener("change", filter);
    filter();

    headers.forEach(function (header, column) {
      header.style.cursor = "pointer";
      header.tabIndex = 0;
      header.title = "sort by this column";
      function sort() {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        var values = rows.map(function (r) { return r.cells[column].textContent.trim(); });
        // A column of figures: some cell starts with a number (names and families never do).
        var numeric = values.some(function (v) { return numberIn(v) !== null; });
        rows.sort(function (a, b) {
          var x = a.cells[column].textContent.trim(), y = b.cells[column].textContent.trim();
          var order;
          if (numeric) {
            var p = numberIn(x), q = numberIn(y);
            if (p === null || q === null) {  // not measured: last in either direction
              return (p === null) - (q === null) || a.dataset.order - b.dataset.order;
            }
            order = p - q;
          } else {
            order = x.localeCompare(y, undefined, { numeric: true, sensitivity: "base" });
          }
          return (ascending ? order : -order) || a.dataset.order - b.dataset.order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      }
      header.addEventListener("click", sort);
      header.addEventListener("keydown", function (event) { if (event.key === "Enter") { sort(); } });
    });
  }
  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("div.leaderboard"), enhance);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
