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
 * - [data-now-board]: the Now page's board asks for itself again (data-refresh-url) every
 *   data-refresh-seconds while the tab is visible, and at once when it becomes visible
 *   again. The request says X-Auto-Refresh: 1, so it does not keep the login alive
 *   (cashdrawer.outage.SessionRefreshMiddleware). Only an answer marked X-Now-Board
 *   replaces the board; a failure shows a note and the old figures stay.
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

  var board = document.querySelector("[data-now-board]");
  if (board && window.fetch) {
    var seconds = parseFloat(board.dataset.refreshSeconds) || 30;
    var errorNote = document.querySelector("[data-now-error]");
    var endedNote = document.querySelector("[data-now-ended]");
    var timer = null;
    var busy = false;
    var ended = false;

    var schedule = function () {
      window.clearTimeout(timer);
      timer = null;
      if (!document.hidden && !ended) timer = window.setTimeout(refresh, seconds * 1000);
    };
    var failed = function () {
      if (errorNote) errorNote.hidden = false;
      board.dataset.refreshState = "failed";
    };
    var refresh = function () {
      if (busy) return;
      busy = true;
      board.dataset.refreshState = "loading";
      fetch(board.dataset.refreshUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-Auto-Refresh": "1", Accept: "text/html" },
      })
        .then(function (response) {
          if (response.ok && response.headers.get("X-Now-Board") === "1") {
            return response.text().then(function (html) {
              board.innerHTML = html;
              if (errorNote) errorNote.hidden = true;
              board.dataset.refreshState = "done";
            });
          }
          if (response.redirected) {
            // Logged out meanwhile (the login page answered): say so, stop asking.
            ended = true;
            if (endedNote) endedNote.hidden = false;
            board.dataset.refreshState = "ended";
            return;
          }
          failed();
        })
        .catch(failed)
        .then(function () {
          busy = false;
          schedule();
        });
    };

    document.addEventListener("visibilitychange", function () {
      if (document.hidden) {
        window.clearTimeout(timer);
        timer = null;
      } else {
        refresh();
      }
    });
    // For tests and the impatient: refresh now.
    board.addEventListener("now:refresh", refresh);
    schedule();
  }

  var target = document.querySelector("[data-scroll-into-view]");
  if (target) target.scrollIntoView();
})();
