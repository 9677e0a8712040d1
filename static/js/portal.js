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
