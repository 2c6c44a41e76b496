/* The pages' one script (inlined): sortable tables, and links between pages inside the Snakemake
   report bundle, which loads each page from a data: URI where no relative link can resolve. */
(function () {
  "use strict";
  if (location.protocol === "data:") {
    document.body.classList.add("in-bundle");
    document.querySelectorAll("a[data-page]").forEach(function (link) {
      var span = document.createElement("span");
      span.className = link.className + " page-name";
      span.textContent = link.textContent;
      link.replaceWith(span);
    });
  }
  // A click on a header of a table.sortable sorts its rows by that column (numbers by value, the
  // rest as text); a second click reverses the order.
  function key(cell) {
    var text = cell ? cell.textContent.trim().replace(/\u2212/g, "-") : "";
    var number = parseFloat(text.replace(/^[^0-9+\-.]*/, ""));
    return isNaN(number) ? text.toLowerCase() : number;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1].cells : [];
    Array.prototype.forEach.call(heads, function (th, column) {
      if (th.colSpan > 1) return;
      th.classList.add("sort");
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var body = table.tBodies[0], up = th.getAttribute("aria-sort") !== "ascending";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          var order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
          return up ? order : -order;
        });
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
