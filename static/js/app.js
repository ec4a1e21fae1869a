/* Every page's own behaviour, loaded by templates/base.html. A static file, no inline
 * script: the pages run under a Content-Security-Policy without 'unsafe-inline'.
 *
 * - select[data-autosubmit]: the language picker; a change takes effect at once (its
 *   <noscript> button covers a browser without JavaScript).
 * - form[data-scope-bar]: the location and range picker (templates/_scope_bar.html); a
 *   new location or range is shown at once, "Custom" first shows the two date fields.
 * - tr[data-href]: a click anywhere on the row opens it (a link in the row keeps it
 *   reachable by keyboard).
 * - details.export-menu: one open at a time; a click elsewhere closes it.
 * - [data-scroll-into-view]: scrolled to when the page loads (a form with errors).
 */
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });

  document.querySelectorAll("form[data-scope-bar]").forEach(function (bar) {
    var range = bar.querySelector("[data-range-select]");
    var custom = bar.querySelector("[data-custom-range]");
    if (range && custom) {
      range.addEventListener("change", function () {
        custom.hidden = range.value !== "custom";
        if (range.value !== "custom") bar.submit();
      });
    }
    var location = bar.querySelector("[data-autosubmit-scope]");
    if (location) {
      location.addEventListener("change", function () {
        bar.submit();
      });
    }
  });

  document.querySelectorAll("tr[data-href]").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a, button, summary")) return;
      window.location.href = row.dataset.href;
    });
  });

  if (document.querySelector("details.export-menu")) {
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.export-menu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) menu.removeAttribute("open");
      });
    });
  }

  var target = document.querySelector("[data-scroll-into-view]");
  if (target) target.scrollIntoView();
})();
