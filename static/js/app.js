/* Small page behaviour, no framework: charts from embedded JSON, autosubmit selects, the active nav
   link, and the recompute progress bar. Everything is served by the app itself. */
(function () {
  "use strict";

  // Charts: <div class="chart" data-figure="ID"> + <script type="application/json" id="ID">.
  function drawCharts() {
    if (!window.Plotly) { return; }
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var src = document.getElementById(el.dataset.figure);
      if (!src) { return; }
      var fig = JSON.parse(src.textContent);
      var layout = Object.assign({autosize: true}, fig.layout || {});
      window.Plotly.newPlot(el, fig.data || [], layout, {
        displaylogo: false, responsive: true, showSendToCloud: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d"]
      }).then(function () { el.dataset.drawn = "1"; });
    });
  }

  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });

  var page = document.querySelector("main[data-page]");
  if (page && page.dataset.page) {
    document.querySelectorAll('[data-nav="' + page.dataset.page + '"]').forEach(function (a) {
      a.classList.add("active");
      a.setAttribute("aria-current", "page");
    });
    document.querySelectorAll("[data-nav-group]").forEach(function (a) {
      if (a.dataset.navGroup.split(" ").indexOf(page.dataset.page) >= 0) { a.classList.add("active"); }
    });
  }

  // Recompute: the button's form posts with fetch, then the bar follows the job until done or failed.
  var form = document.getElementById("recompute-form");
  if (form) {
    var bar = document.getElementById("recompute-bar");
    var label = document.getElementById("recompute-label");
    var wrap = document.getElementById("recompute-progress");
    var poll = function (url) {
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (job) {
          var pct = Math.round((job.progress || 0) * 100);
          bar.style.width = pct + "%";
          bar.setAttribute("aria-valuenow", pct);
          bar.textContent = pct + "%";
          label.textContent = job.state_label || job.state;
          if (job.state === "done") {
            bar.classList.remove("progress-bar-animated");
            bar.classList.add("bg-success");
            window.setTimeout(function () { window.location.reload(); }, 800);
          } else if (job.state === "failed") {
            bar.classList.add("bg-danger");
            label.textContent = (job.state_label || job.state) + ": " + (job.error || "");
          } else {
            window.setTimeout(function () { poll(url); }, 700);
          }
        });
    };
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      wrap.classList.remove("d-none");
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (job) { poll(job.status_url); });
    });
  }

  drawCharts();
})();
