/* hotspot: the usage-history card. A tapped calendar day opens its hours in place: the server renders
   the same page with ?day=..., this swaps in that part alone (no data formatting twice, no framework). */
(function () {
  "use strict";
  var cal = document.getElementById("hist-cal");
  if (!cal || !window.fetch || !window.DOMParser) { return; }
  cal.addEventListener("click", function (ev) {
    var a = ev.target.closest("a[data-day]");
    if (!a || ev.metaKey || ev.ctrlKey) { return; }
    ev.preventDefault();
    fetch(a.href, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("hist-day");
        var box = document.getElementById("hist-day");
        if (!fresh || !box) { throw new Error("no day"); }
        box.replaceWith(fresh);
        Array.prototype.forEach.call(cal.querySelectorAll("[aria-current]"), function (d) {
          d.removeAttribute("aria-current");
        });
        a.setAttribute("aria-current", "date");
        if (history.replaceState) { history.replaceState(null, "", a.href); }
      })
      .catch(function () { window.location.href = a.href; });
  });
})();
