/* The closing slip: a Print button, and printing at once when the session page's
 * Print button led here (?print=1). A static file, no inline script: the pages are to
 * run under a Content-Security-Policy without 'unsafe-inline'.
 */
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false; // without JavaScript, the browser's own Print still works
    button.addEventListener("click", function () {
      window.print();
    });
  });

  var url = new URL(window.location.href);
  if (url.searchParams.get("print") === "1") {
    // Drop the parameter first, so that reloading or going back does not print again.
    url.searchParams.delete("print");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    window.addEventListener("load", function () {
      window.print();
    });
  }
})();
