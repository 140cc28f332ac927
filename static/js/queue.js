// The review queue: rows from GET /api/events/ with the page's query string; sort, load more, live update.
"use strict";
(function () {
  const table = document.getElementById("queue");
  const body = table.querySelector("tbody");
  const columns = table.dataset.columns.split(",");
  const notice = document.getElementById("queue-notice");
  const errorBox = document.getElementById("queue-error");
  const loadMore = document.getElementById("load-more");
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const POLL_MS = 30000;
  const PRESENCE_MS = 15000;
  let viewers = {};
  let next = null;
  let selected = 0;
  let rows = [];

  const params = () => new URLSearchParams(window.location.search);
  const ordering = () => params().get("ordering") || "-importance";
  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const STATE_MARK = { new: "○", scored: "◔", in_review: "◑", accepted: "✓", rejected: "✗" };
  const CLASS_MARK = { earthquake: "EQ", explosion_like: "EX", other_natural: "ON", not_existing: "FA" };

  function text(value, digits) {
    if (value === null || value === undefined || value === "") return "—";
    return typeof value === "number" && digits !== undefined ? value.toFixed(digits) : String(value);
  }

  function ago(iso) {
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
  }

  function cell(key, row, index) {
    const td = document.createElement("td");
    const numeric = ["rank", "latitude", "longitude", "depth", "magnitude", "phase_count", "azimuthal_gap", "rms"];
    if (numeric.includes(key)) td.className = "num";
    switch (key) {
      case "rank": td.textContent = String(index + 1); break;
      case "importance": {
        const value = row.importance;
        td.className = "importance";
        td.innerHTML = '<span class="bar" aria-hidden="true"><span></span></span> ';
        td.querySelector(".bar span").style.width = `${Math.round(100 * (value || 0))}%`;
        td.append(value === null ? "unscored" : value.toFixed(2));
        break;
      }
      case "origin_time": {
        const link = document.createElement("a");
        const query = params();
        link.href = `/queue/events/${row.id}/?${query.toString()}`;
        link.textContent = row.origin_time ? row.origin_time.replace("T", " ").replace(/(\.\d)\d*/, "$1").replace("Z", "") : "—";
        link.className = "open-event";
        td.append(link);
        break;
      }
      case "latitude": case "longitude": td.textContent = text(row[key], 3); break;
      case "depth": td.textContent = text(row.depth, 1); break;
      case "magnitude": td.textContent = row.magnitude === null ? "—" : `${row.magnitude.toFixed(1)} ${row.magnitude_type}`; break;
      case "azimuthal_gap": td.textContent = text(row.azimuthal_gap, 0); break;
      case "rms": td.textContent = text(row.rms, 2); break;
      case "predicted_class":
        if (row.predicted_class) {
          const badge = document.createElement("span");
          badge.className = `predicted class-${row.predicted_class}`;
          const probability = row.predicted_probability === null ? "" : ` ${Math.round(100 * row.predicted_probability)}%`;
          badge.textContent = `${CLASS_MARK[row.predicted_class] || ""} ${row.predicted_class}${probability}`;
          td.append(badge);
        } else td.textContent = "—";
        break;
      case "event_type": td.textContent = row.event_type ? `${row.event_type}${row.event_type_certainty === "suspected" ? " (?)" : ""}` : "—"; break;
      case "review_state": {
        const badge = document.createElement("span");
        badge.className = `state state-${row.review_state}`;
        badge.textContent = `${STATE_MARK[row.review_state] || ""} ${row.review_state.replace("_", " ")}`;
        td.append(badge);
        break;
      }
      case "agency": td.textContent = text(row.agency_id); break;
      case "claimed_by": {
        td.textContent = row.claimed_by ? `🔒 ${row.claimed_by} (${ago(row.claimed_at)})` : "";
        const looking = (viewers[row.id] || []).filter((name) => name !== config.me);
        if (looking.length) {
          const badge = document.createElement("span");
          badge.className = "viewers";
          badge.title = "has this event open now";
          badge.textContent = `👁 ${looking.join(", ")}`;
          td.append(td.textContent ? " " : "", badge);
        }
        break;
      }
      default: td.textContent = text(row[key]);
    }
    return td;
  }

  function render() {
    body.replaceChildren();
    if (!rows.length) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = columns.length;
      td.textContent = "No events match these filters.";
      return;
    }
    rows.forEach((row, index) => {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      if (index === selected) tr.classList.add("selected");
      columns.forEach((key) => tr.append(cell(key, row, index)));
      tr.addEventListener("click", () => select(index));
      tr.addEventListener("dblclick", () => open(index));
      body.append(tr);
    });
    loadMore.hidden = next === null;
  }

  function markSorted() {
    const current = ordering();
    table.querySelectorAll("th[data-column]").forEach((th) => {
      const key = th.dataset.column === "rank" ? "importance" : th.dataset.column;
      const mark = th.querySelector(".sort-mark");
      const state = current === key ? "ascending" : current === `-${key}` ? "descending" : "none";
      th.setAttribute("aria-sort", state);
      if (mark) mark.textContent = state === "ascending" ? " ▲" : state === "descending" ? " ▼" : "";
    });
  }

  async function fetchPage(cursor) {
    const query = params();
    query.set("limit", "50");
    if (cursor) query.set("cursor", cursor);
    if (cursor) query.set("total", "0");  // the estimate shown is page 1's; later pages skip it
    const response = await fetch(`/api/events/?${query.toString()}`, { headers: { Accept: "application/json" } });
    const data = await response.json();
    if (!response.ok) {
      errorBox.hidden = false;
      errorBox.textContent = Object.entries(data).map(([field, problem]) => `${field}: ${problem}`).join("; ");
      throw new Error("queue request refused");
    }
    errorBox.hidden = true;
    if (cursor) return data;
    const total = document.getElementById("queue-total");
    total.textContent = `${data.total_is_exact ? "" : "about "}${data.approximate_total} events`;
    return data;
  }

  async function load() {
    markSorted();
    const data = await fetchPage(null);
    rows = data.results;
    next = data.next;
    selected = Math.min(selected, Math.max(0, rows.length - 1));
    render();
  }

  async function more() {
    if (next === null) return;
    const data = await fetchPage(next);
    rows = rows.concat(data.results);
    next = data.next;
    render();
  }

  // Live update: refresh what is on screen in place, and say when new events would come before it.
  async function poll() {
    if (document.hidden) return;
    const data = await fetchPage(null).catch(() => null);
    if (!data) return;
    const shown = new Map(rows.map((row, index) => [row.id, index]));
    let unseen = 0;
    data.results.forEach((row) => {
      if (shown.has(row.id)) rows[shown.get(row.id)] = row;
      else unseen += 1;
    });
    render();
    notice.hidden = unseen === 0;
    if (unseen) {
      notice.textContent = `${unseen} new or re-scored events belong near the top. `;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Show them";
      button.addEventListener("click", () => { notice.hidden = true; selected = 0; load(); });
      notice.append(button);
    }
  }

  // Presence: who has each shown event open right now (the event pages send heartbeats).
  async function presence() {
    if (document.hidden || !rows.length) return;
    const ids = rows.slice(0, 500).map((row) => row.id).join(",");
    const response = await fetch(`/api/presence/?events=${ids}`, { headers: { Accept: "application/json" } }).catch(() => null);
    if (!response || !response.ok) return;
    const data = await response.json();
    const changed = JSON.stringify(data.events) !== JSON.stringify(viewers);
    viewers = data.events;
    if (changed) render();
  }

  function select(index) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    body.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
    const tr = body.rows[selected];
    tr.classList.add("selected");
    tr.scrollIntoView({ block: "nearest" });
    if (selected === rows.length - 1 && next !== null) more();
  }

  function open(index) {
    const link = body.rows[index] && body.rows[index].querySelector("a.open-event");
    if (link) window.location.assign(link.href);
  }

  function sortBy(key) {
    const column = key === "rank" ? "importance" : key;
    const current = ordering();
    const wanted = current === `-${column}` ? column : `-${column}`;
    const query = params();
    query.set("ordering", wanted);
    history.replaceState(null, "", `?${query.toString()}`);
    document.querySelector("#filters input[name=ordering]").value = wanted;
    selected = 0;
    load();
  }

  table.querySelectorAll("button.sort").forEach((button) => button.addEventListener("click", () => sortBy(button.dataset.sort)));
  loadMore.addEventListener("click", more);

  // Empty filter fields stay out of the URL, so a shared link shows only what matters.
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    new FormData(event.target).forEach((value, key) => { if (value !== "") query.set(key, value); });
    window.location.search = query.toString();
  });

  document.getElementById("columns-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = new FormData(event.target).getAll("columns");
    const response = await fetch("/api/preferences/columns/", {
      method: "PUT", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ columns: chosen }),
    });
    if (response.ok) window.location.reload();
  });

  document.getElementById("saved-filters").addEventListener("change", (event) => {
    if (event.target.value !== "") window.location.search = event.target.value;
  });
  document.getElementById("save-filter").addEventListener("click", async () => {
    const name = window.prompt("Name this view (filters and sort order):");
    if (!name) return;
    const response = await fetch("/api/filters/", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ name, query: params().toString() }),
    });
    if (response.ok) window.location.reload();
  });

  document.querySelectorAll("[data-help-toggle]").forEach((button) => button.addEventListener("click", () => {
    const help = document.getElementById("help");
    help.hidden = !help.hidden;
  }));

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = {
      j: () => select(selected + 1), ArrowDown: () => select(selected + 1),
      k: () => select(selected - 1), ArrowUp: () => select(selected - 1),
      Enter: () => open(selected), o: () => open(selected),
      "/": () => document.querySelector("#filters input[name=region]").focus(),
      0: () => { window.location.search = ""; },
      "?": () => { const help = document.getElementById("help"); help.hidden = !help.hidden; },
    };
    const preset = config.presets.find((item) => item.key === event.key);
    if (preset) {
      event.preventDefault();
      window.location.search = preset.query;
    } else if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  });

  load().then(presence).catch(() => {});
  window.setInterval(presence, PRESENCE_MS);
  window.setInterval(poll, POLL_MS);
})();
