// The employee list: "Select all on this page" and the count of selected employees.
// Works on whatever rows htmx has swapped in (search results, "Load more", rows refreshed after an action).
(function () {
  "use strict";

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("#employee-rows input.row-select"));
  }

  function update() {
    var all = boxes();
    var chosen = all.filter(function (box) { return box.checked; }).length;
    var count = document.getElementById("selected-count");
    if (count) {
      count.textContent = chosen === 0 ? "None selected" : chosen + " selected";
    }
    var master = document.getElementById("select-all");
    if (master) {
      master.checked = all.length > 0 && chosen === all.length;
      master.indeterminate = chosen > 0 && chosen < all.length;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-all") {
      boxes().forEach(function (box) { box.checked = target.checked; });
      update();
    } else if (target.classList && target.classList.contains("row-select")) {
      update();
    }
  });
  document.addEventListener("htmx:afterSettle", update);
  document.addEventListener("DOMContentLoaded", update);
})();

// Searches and filters leave empty fields (and the default sort) out of the URL, so the address that is
// pushed to the history and shared stays short: /employees/?q=anna instead of ?q=anna&department=&….
document.addEventListener("htmx:configRequest", function (event) {
  "use strict";
  var filters = document.getElementById("employee-filters");
  var data = event.detail.formData;
  if (!filters || !data || event.detail.verb !== "get" || !filters.contains(event.detail.elt)) {
    return;
  }
  var drop = [];
  data.forEach(function (value, key) {
    if (value === "" || (key === "sort" && value === "name")) {
      drop.push(key);
    }
  });
  drop.forEach(function (key) { data.delete(key); });
});
