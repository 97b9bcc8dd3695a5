// The import job page (web/admin/imports.py): polls the job's JSON until it has finished, then
// reloads to show the summary. Without JavaScript the page refreshes itself instead.
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box || box.dataset.finished === "yes") { return; }
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (job) {
        if (job.status === "succeeded" || job.status === "failed") { window.location.reload(); return; }
        var bar = document.getElementById("import-progress");
        if (bar) { bar.value = job.progress; }
        var rows = document.getElementById("import-rows");
        if (rows) { rows.textContent = job.rows; }
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 300);
})();
