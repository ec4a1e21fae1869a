/* Count grid: a live total while quantities are typed, the difference against the
 * expected cash (or the previous closing float when opening), and small keyboard
 * helps. Plain JavaScript, no build step. The server decides everything again on submit.
 *
 * Amounts are handled as integers of the currency's minor unit (cents), never as
 * floating-point money, and shown with Intl.NumberFormat in the page's language, so they
 * read like the server's money filter ("1.002,50 €" in German, "€1,002.50" in English).
 *
 * Markup it reads (all optional except the form):
 *   form[data-count-form]  data-currency, data-minor-units,
 *                          data-expected (left out on a blind close), data-previous,
 *                          data-default-retained, data-threshold (the location's
 *                          discrepancy threshold; left out on a blind close)
 *   input[data-qty][data-value="50.00"]     a quantity; its row has [data-subtotal]
 *   input[data-counted-input]               a counted cash (or opening float) typed as one amount
 *   input[data-method]                      radios "total" / "denominations"
 *   [data-method-section="total|denominations"]
 *   input[data-not-counted]                 "close without counting"
 *   input[data-retained-input]              retained float
 *   [data-count-total] [data-difference] [data-difference-label] [data-cash-removed]
 *   [data-retained-note] [data-clear-count]
 *   [data-threshold-note]                   shown while the difference passes the threshold
 */
(function () {
  "use strict";

  var MINUS = "\u2212";

  function setup(form) {
    var lang = document.documentElement.lang || "en";
    var currency = form.dataset.currency || "EUR";
    var minor = parseInt(form.dataset.minorUnits || "2", 10);
    var scale = Math.pow(10, minor);
    var format;
    try {
      format = new Intl.NumberFormat(lang, {
        style: "currency", currency: currency,
        minimumFractionDigits: minor, maximumFractionDigits: minor
      });
    } catch (e) {
      format = new Intl.NumberFormat("en", { style: "currency", currency: currency });
    }
    var decimalMark = ".";
    format.formatToParts(1.5).forEach(function (part) {
      if (part.type === "decimal") decimalMark = part.value;
    });

    function units(text) {
      // "50.00" (a face value or data attribute, always with a dot) → 5000
      if (text === undefined || text === null || text === "") return null;
      var n = Number(text);
      return isFinite(n) ? Math.round(n * scale) : null;
    }
    function money(value) {
      if (value === null) return "—";
      var text = format.format(Math.abs(value) / scale);
      return value < 0 ? MINUS + text : text;
    }
    function signed(value) {
      return value > 0 ? "+" + money(value) : money(value);
    }
    function typedAmount(text) {
      // What a person types, in the page's language: "12,50" in German is 12.50.
      text = (text || "").replace(/[\s\u00a0']/g, "");
      if (!text) return null;
      if (decimalMark === ",") {
        text = text.indexOf(",") >= 0
          ? text.replace(/\./g, "").replace(",", ".")
          : (/^\d{1,3}(\.\d{3})+$/.test(text) ? text.replace(/\./g, "") : text);
      } else {
        // Only thousands commas; "12,50" is not a number here (the server refuses it too).
        text = /^\d{1,3}(,\d{3})+(\.\d*)?$/.test(text) ? text.replace(/,/g, "") : text;
      }
      var match = /^(\d+)(?:\.(\d*))?$/.exec(text);
      if (!match || (match[2] || "").length > minor) return null;
      return units(text);
    }
    function quantity(input) {
      var text = input.value.trim();
      if (text === "") return 0;
      return /^\d+$/.test(text) ? parseInt(text, 10) : null;
    }

    var qtys = Array.prototype.slice.call(form.querySelectorAll("input[data-qty]"));
    var countedInput = form.querySelector("[data-counted-input]");
    var notCounted = form.querySelector("[data-not-counted]");
    var retainedInput = form.querySelector("[data-retained-input]");
    var methods = form.querySelectorAll("input[data-method]");
    var expected = units(form.dataset.expected);
    var previous = units(form.dataset.previous);
    var defaultRetained = units(form.dataset.defaultRetained);
    var threshold = units(form.dataset.threshold);
    var hasTarget = expected !== null || previous !== null;
    var target = expected !== null ? expected : previous;

    function all(selector) { return form.querySelectorAll(selector); }
    function show(selector, text) {
      all(selector).forEach(function (el) { el.textContent = text; });
    }

    function method() {
      var chosen = "denominations";
      methods.forEach(function (radio) { if (radio.checked) chosen = radio.value; });
      return methods.length ? chosen : (qtys.length ? "denominations" : "total");
    }

    function countedTotal() {
      if (notCounted && notCounted.checked) return null;
      if (method() === "total") {
        return countedInput ? typedAmount(countedInput.value) : null;
      }
      var total = 0;
      var valid = true;
      qtys.forEach(function (input) {
        var q = quantity(input);
        var row = input.closest("tr");
        var cell = row && row.querySelector("[data-subtotal]");
        input.classList.toggle("invalid", q === null);
        if (q === null) { valid = false; if (cell) cell.textContent = "—"; return; }
        var sub = q * units(input.dataset.value);
        total += sub;
        if (cell) {
          cell.textContent = input.value.trim() === "" ? "" : money(sub);
          row.classList.toggle("has-quantity", q > 0);
        }
      });
      return valid ? total : null;
    }

    function update() {
      var off = notCounted && notCounted.checked;
      var chosen = method();
      all("[data-method-section]").forEach(function (section) {
        section.hidden = section.dataset.methodSection !== chosen;
      });
      all("[data-count-section]").forEach(function (section) {
        section.classList.toggle("is-disabled", !!off);
        section.querySelectorAll("input, button").forEach(function (el) { el.disabled = !!off; });
      });

      var counted = countedTotal();
      show("[data-count-total]", off ? form.dataset.notCountedText || "—" : money(counted));

      var difference = null;
      if (!off && hasTarget && counted !== null) difference = counted - target;
      all("[data-difference]").forEach(function (el) {
        el.textContent = difference === null ? "—" : signed(difference);
        var box = el.closest("[data-tone]") || el;
        ["short", "over", "even"].forEach(function (tone) { box.classList.remove(tone); });
        if (difference !== null) {
          box.classList.add(difference < 0 ? "short" : difference > 0 ? "over" : "even");
        }
      });
      // A warning only: the server checks again, the total with the start discrepancy too.
      all("[data-threshold-note]").forEach(function (el) {
        el.hidden = !(threshold !== null && difference !== null && Math.abs(difference) > threshold);
      });
      all("[data-difference-label]").forEach(function (el) {
        var key = difference === null ? "none" : difference < 0 ? "short" : difference > 0 ? "over" : "even";
        el.textContent = el.dataset[key] || "";
      });

      if (retainedInput) {
        var typed = typedAmount(retainedInput.value);
        var ceiling = off ? expected : counted;
        var retained = typed === null ? (defaultRetained || 0) : typed;
        var capped = false;
        // The service caps a float left at its default (or left empty) at the counted
        // (or expected) cash.
        if (ceiling !== null && retained > ceiling && (typed === null || typed === defaultRetained)) {
          retained = Math.max(ceiling, 0);
          capped = true;
        }
        all("[data-retained-note]").forEach(function (el) { el.hidden = !capped; });
        var base = off ? expected : counted;
        show("[data-cash-removed]", base === null ? "—" : money(base - retained));
      }
    }

    form.addEventListener("input", update);
    form.addEventListener("change", update);

    // Enter in a quantity moves on to the next one instead of submitting half a count.
    qtys.forEach(function (input, index) {
      input.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") return;
        event.preventDefault();
        var next = qtys[index + 1] || form.querySelector("[data-after-count]");
        if (next) { next.focus(); if (next.select) next.select(); }
      });
      // Typing over a pre-filled quantity replaces it, on a tablet too.
      input.addEventListener("focus", function () { input.select(); });
    });

    all("[data-clear-count]").forEach(function (button) {
      button.addEventListener("click", function () {
        qtys.forEach(function (input) { input.value = ""; });
        update();
        if (qtys[0]) qtys[0].focus();
      });
    });

    update();
  }

  document.querySelectorAll("form[data-count-form]").forEach(setup);
})();
