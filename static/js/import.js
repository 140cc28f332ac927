// The import page: upload with a byte progress bar, then poll the import job for its progress and report.
"use strict";
(function () {
  const form = document.getElementById("import-form");
  const statusBox = document.getElementById("import-status");
  const uploadBar = document.getElementById("upload-progress");
  const importBar = document.getElementById("import-progress");
  const state = document.getElementById("import-state");
  const errorBox = document.getElementById("import-error");
  const report = document.querySelector("#import-report tbody");
  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || form.querySelector("[name=csrfmiddlewaretoken]").value;

  function showError(text) {
    errorBox.hidden = !text;
    errorBox.textContent = text || "";
  }

  function render(job) {
    importBar.max = Math.max(1, job.total);
    importBar.value = job.done;
    state.textContent = `${job.state}: ${job.done} of ${job.total} files`;
    state.dataset.state = job.state;
    report.replaceChildren(...job.files.map((file) => {
      const tr = document.createElement("tr");
      tr.className = file.status;
      const details = file.error || file.summary.replace(/^\S+ /, "") || "";
      [file.name, file.kind, file.status, file.created, file.updated, file.skipped, details].forEach((value, index) => {
        const td = document.createElement("td");
        td.textContent = String(value);
        if (index >= 3 && index <= 5) td.className = "num";
        tr.append(td);
      });
      return tr;
    }));
  }

  async function poll(id) {
    const response = await fetch(`/api/imports/${id}/`, { headers: { Accept: "application/json" } });
    if (!response.ok) { showError(`The import job could not be read (HTTP ${response.status}).`); return; }
    const job = await response.json();
    render(job);
    if (job.state === "queued" || job.state === "running") window.setTimeout(() => poll(id), 1000);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError("");
    statusBox.hidden = false;
    uploadBar.value = 0;
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRFToken", csrf());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) uploadBar.value = Math.round((100 * progress.loaded) / progress.total);
    });
    request.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(request.responseText); } catch (error) { data = {}; }
      if (request.status !== 202) {
        const problems = Object.values(data).flat().join("; ");
        showError(`Not imported: ${problems || `HTTP ${request.status}`}`);
        statusBox.hidden = true;
        return;
      }
      uploadBar.value = 100;
      render(data);
      history.replaceState(null, "", `?job=${data.id}`);
      poll(data.id);
    });
    request.addEventListener("error", () => showError("The upload failed (network)."));
    request.send(new FormData(form));
  });

  const job = new URLSearchParams(window.location.search).get("job");
  if (job) { statusBox.hidden = false; poll(job); }
})();
