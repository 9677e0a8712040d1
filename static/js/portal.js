// Wide data tables scroll sideways on a narrow screen (portal.css); a region that scrolls must be
// reachable by keyboard (WCAG 2.1.1), so each one that actually scrolls joins the tab order.
// Runs on load and after every htmx swap.
(function () {
  function focusableScrollers(root) {
    (root || document).querySelectorAll("table.data").forEach(function (table) {
      if (table.scrollWidth > table.clientWidth && !table.hasAttribute("tabindex")) { table.tabIndex = 0; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { focusableScrollers(document); });
  document.addEventListener("htmx:afterSwap", function (event) { focusableScrollers(event.target); });
  window.addEventListener("resize", function () { focusableScrollers(document); });
})();

// The Content-Security-Policy (releaseportal/settings.py CONTENT_SECURITY_POLICY) runs no inline
// script, no inline event handler and no style attribute: templates ask for behaviour with
// data- attributes and this file provides it.
(function () {
  // data-swap-errors on the target of an htmx request (or an ancestor of it, or of the element
  // that sent it): a refusal comes back as 4xx with the fragment explaining why; htmx leaves
  // error responses out by default, so swap it in where the person looks. "4xx" limits it to
  // client errors; any other value swaps every error answer.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status < 400) { return; }
    var target = event.detail.target, elt = event.detail.elt;
    var marker = (target && target.closest && target.closest("[data-swap-errors]")) ||
                 (elt && elt.closest && elt.closest("[data-swap-errors]"));
    if (!marker) { return; }
    if (marker.getAttribute("data-swap-errors") === "4xx" && status >= 500) { return; }
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  });

  // data-confirm="question" on a form: ask before submitting it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    // data-autosubmit on a field: changing it submits its form.
    if (el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); return; }
    // data-select-all="selector" on a checkbox: tick or clear every checkbox the selector names.
    var selector = el.getAttribute("data-select-all");
    if (selector) {
      document.querySelectorAll(selector).forEach(function (box) { box.checked = el.checked; });
    }
  });

  // Values known only at render time, applied through the CSSOM (which the policy allows).
  function applyStyles(root) {
    if (!root || !root.querySelectorAll) { return; }
    root.querySelectorAll("[data-progress]").forEach(function (el) {
      var value = parseFloat(el.getAttribute("data-progress"));
      el.style.width = (isFinite(value) ? Math.max(0, Math.min(100, value)) : 0) + "%";
    });
    root.querySelectorAll("[data-env-columns]").forEach(function (el) {
      var columns = parseInt(el.getAttribute("data-env-columns"), 10);
      if (columns > 0) { el.style.setProperty("--env-columns", String(columns)); }
    });
    root.querySelectorAll("[data-colour]").forEach(function (el) {
      el.style.borderColor = el.getAttribute("data-colour");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { applyStyles(document); });
  document.addEventListener("htmx:load", function (event) { applyStyles(event.target.parentNode || event.target); });
})();
