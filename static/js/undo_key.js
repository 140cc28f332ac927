// u on the review page: undo this analyst's last decision (POST /api/events/undo/, a new audited decision) and
// show the event it restored, so a slip on the previous event is one key away from being taken back.
"use strict";
(function () {
  const message = document.getElementById("message");
  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  document.addEventListener("keydown", async (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    if (event.key !== "u" || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    const response = await fetch("/api/events/undo/", {
      method: "POST", headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      message.hidden = false;
      message.className = "message error";
      message.textContent = data.detail || `undo refused (${response.status})`;
      return;
    }
    window.location.assign(`/queue/events/${data.event.id}/${window.location.search}`);
  });
})();
