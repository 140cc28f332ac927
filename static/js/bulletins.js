// The bulletins page: every job of yours still queued or running is polled at its status URL until a worker has
// written its file (the row then offers it) or has failed (the row then says why). The form itself is a plain POST.
"use strict";
const DELAYS_MS = [1000, 1000, 2000, 3000, 5000];
const UNFINISHED = new Set(["queued", "running"]);

function fileSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let size = bytes;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${size} bytes` : `${size.toFixed(1)} ${units[unit]}`;
}

function show(row, job) {
  row.dataset.state = job.state;
  row.querySelector(".job-state").textContent = job.state;
  const result = row.querySelector(".job-result");
  result.replaceChildren();
  if (job.state === "done" && job.file_url) {
    const link = document.createElement("a");
    link.href = `/bulletins/${job.bulletin_id}/file/`;
    link.download = "";
    link.textContent = `${job.event_count} events, ${fileSize(job.size_bytes)}`;
    link.title = `SHA-256 ${job.sha256}`;
    result.append(link);
  } else if (job.state === "done") {
    const gone = document.createElement("span");
    gone.className = "muted";
    gone.textContent = "no longer kept (drafts are deleted after a few days)";
    result.append(gone);
  } else if (job.state === "failed") {
    const message = document.createElement("span");
    message.className = "error";
    message.setAttribute("role", "alert");
    message.textContent = job.error;
    result.append(message);
  }
}

async function follow(row, attempt) {
  let job = null;
  try {
    const response = await fetch(row.dataset.statusUrl, { headers: { Accept: "application/json" } });
    if (response.ok) {
      job = await response.json();
      show(row, job);
    } else {
      row.querySelector(".job-state").textContent = `${row.dataset.state} (status unavailable: ${response.status})`;
    }
  } catch (error) {
    row.querySelector(".job-state").textContent = `${row.dataset.state} (status unavailable: ${error.message})`;
  }
  if (job === null || UNFINISHED.has(job.state)) {
    setTimeout(() => follow(row, attempt + 1), DELAYS_MS[Math.min(attempt, DELAYS_MS.length - 1)]);
  }
}

document.querySelectorAll("#bulletin-jobs tr[data-status-url]").forEach((row) => {
  if (UNFINISHED.has(row.dataset.state)) {
    follow(row, 0);
  }
});
