// The review queue: rows from GET /api/events/ with the page's query string; sort, load more, live update that
// re-sorts in place (selection and place kept), the progress line, undo (u) and batch decisions on marked rows.
"use strict";
(function () {
  const table = document.getElementById("queue");
  const body = table.querySelector("tbody");
  const columns = table.dataset.columns.split(",");
  const notice = document.getElementById("queue-notice");
  const errorBox = document.getElementById("queue-error");
  const loadMore = document.getElementById("load-more");
  const wrap = table.closest(".table-wrap");
  const batchBar = document.getElementById("batch-bar");
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const POLL_MS = 30000;
  const PRESENCE_MS = 15000;
  const MAX_PAGE = 200;  // the API's largest page: a live update re-sorts up to this many rows in one request
  let viewers = {};
  let next = null;
  let selected = 0;
  let rows = [];
  const marked = new Set();  // ids of the rows ticked for a batch decision

  const params = () => new URLSearchParams(window.location.search);
  const ordering = () => params().get("ordering") || "-importance";
  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const STATE_MARK = { new: "○", scored: "◔", in_review: "◑", accepted: "✓", rejected: "✗" };
  const CLASS_MARK = { earthquake: "EQ", explosion_like: "EX", other_natural: "ON", not_existing: "FA" };
  // An event type's symbol by its decision class (colour comes from the class too; the word stays beside it).
  const TYPE_SYMBOL = { earthquake: "●", explosion_like: "✸", other_natural: "▲", not_existing: "✗" };
  const MODE_MARK = { automatic: "A", manual: "M" };
  const number = (value) => Number(value).toLocaleString("en");

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
          badge.textContent = `${CLASS_MARK[row.predicted_class] || row.predicted_class}${probability}`;
          badge.title = `${row.predicted_class.replace("_", " ")}${probability}`;
          td.append(badge);
        } else td.textContent = "—";
        break;
      case "event_type": {
        if (!row.event_type) { td.textContent = "—"; break; }
        const decisionClass = config.typeClasses[row.event_type] || "other";
        const badge = document.createElement("span");
        badge.className = `event-type type-${decisionClass}`;
        const symbol = document.createElement("span");
        symbol.className = "type-symbol";
        symbol.setAttribute("aria-hidden", "true");
        symbol.textContent = TYPE_SYMBOL[decisionClass] || "◆";
        badge.append(symbol, ` ${row.event_type}${row.event_type_certainty === "suspected" ? " (?)" : ""}`);
        td.className = "type";
        td.title = row.event_type;
        td.append(badge);
        break;
      }
      case "evaluation": {
        const mode = row.evaluation_mode || "";
        const status = row.evaluation_status || "";
        if (!mode && !status) { td.textContent = "—"; break; }
        const badge = document.createElement("span");
        badge.className = `evaluation mode-${mode || "unknown"} status-${status || "unknown"}`;
        badge.title = `evaluation mode ${mode || "unknown"}, status ${status || "unknown"}`;
        badge.textContent = `${MODE_MARK[mode] || "?"} ${status || "—"}`;
        td.append(badge);
        break;
      }
      case "origin_count": td.className = "num"; td.textContent = text(row.origin_count); break;
      case "author": td.textContent = text(row.author); break;
      case "triage": {
        // From the ranker's triage (row fields `triage`, `triage_class`); absent or null on older servers.
        const triage = row.triage || null;
        if (!triage) { td.textContent = "—"; break; }
        const badge = document.createElement("span");
        badge.className = `triage triage-${triage}`;
        // Short in the cell (the queue must fit 1,366 px), in full on hover.
        badge.textContent = triage === "confident" ? `✓ ${CLASS_MARK[row.triage_class] || row.triage_class || "sure"}` : "? review";
        badge.title = `${triage.replace("_", " ")}${row.triage_class ? `: ${row.triage_class.replace("_", " ")}` : ""}`;
        td.append(badge);
        break;
      }
      case "region": td.textContent = text(row.region); td.title = row.region || ""; td.className = "region"; break;
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
      td.colSpan = columns.length + 1;
      td.textContent = "No events match these filters.";
      return;
    }
    rows.forEach((row, index) => {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      if (index === selected) tr.classList.add("selected");
      const tick = document.createElement("td");
      tick.className = "mark";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = marked.has(row.id);
      box.setAttribute("aria-label", `mark event ${row.id} for a batch decision`);
      box.addEventListener("click", (event) => { event.stopPropagation(); mark(row.id, box.checked); });
      tick.append(box);
      tr.append(tick);
      if (marked.has(row.id)) tr.classList.add("marked");
      columns.forEach((key) => tr.append(cell(key, row, index)));
      tr.addEventListener("click", () => select(index));
      tr.addEventListener("dblclick", () => open(index));
      body.append(tr);
    });
    loadMore.hidden = next === null;
    batchShow();
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
    total.textContent = data.total_is_exact ? `${number(data.approximate_total)} events`
      : `≈ ${number(data.approximate_total)} events (estimate)`;
    total.title = data.total_is_exact ? "counted exactly" : "the database's estimate: views this big are not counted";
    return data;
  }

  async function progress() {
    const response = await fetch(`/api/events/progress/?${params().toString()}`, { headers: { Accept: "application/json" } }).catch(() => null);
    if (!response || !response.ok) return;
    const data = await response.json();
    const left = `${data.left_is_exact ? "" : "≈ "}${number(data.left_in_view)}`;
    document.getElementById("queue-progress").textContent = `${number(data.reviewed_today)} reviewed today, ${left} left in this view`;
  }

  async function load() {
    markSorted();
    const selectedId = rows[selected] ? rows[selected].id : null;
    const data = await fetchPage(null);
    rows = data.results;
    next = data.next;
    const found = rows.findIndex((row) => row.id === selectedId);
    selected = found >= 0 ? found : Math.min(selected, Math.max(0, rows.length - 1));
    render();
  }

  async function more() {
    if (next === null) return;
    const data = await fetchPage(next);
    rows = rows.concat(data.results);
    next = data.next;
    render();
  }

  // Live update: fetch what is on screen again, in the server's order, and re-sort the rows; the selected event
  // stays selected and stays where it was on the screen (the list scrolls under it), so the analyst's place holds.
  async function poll() {
    if (document.hidden) return;
    const shownIds = rows.map((row) => row.id);
    const selectedId = rows[selected] ? rows[selected].id : null;
    const before = selectedId !== null ? body.rows[selected] : null;
    const offset = before ? before.getBoundingClientRect().top : null;
    const query = params();
    query.set("limit", String(Math.min(MAX_PAGE, Math.max(50, rows.length))));
    const response = await fetch(`/api/events/?${query.toString()}`, { headers: { Accept: "application/json" } }).catch(() => null);
    if (!response || !response.ok) return;
    const data = await response.json();
    const total = document.getElementById("queue-total");
    total.textContent = data.total_is_exact ? `${number(data.approximate_total)} events` : `≈ ${number(data.approximate_total)} events (estimate)`;
    rows = data.results;
    next = data.next;
    const moved = rows.map((row) => row.id).some((id, index) => shownIds[index] !== id);
    const found = rows.findIndex((row) => row.id === selectedId);
    selected = found >= 0 ? found : Math.min(selected, Math.max(0, rows.length - 1));
    render();
    const after = body.rows[selected];
    if (after && offset !== null) window.scrollBy(0, after.getBoundingClientRect().top - offset);
    if (moved) {
      notice.hidden = false;
      notice.textContent = `Order changed (${new Date().toISOString().slice(11, 19)} UTC): re-sorted by ${ordering()}; your selection is kept. Press R to reload.`;
    }
    progress();
  }

  async function refresh() {
    notice.hidden = true;
    await load();
    progress();
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

  function mark(id, on) {
    if (on) marked.add(id); else marked.delete(id);
    const tr = body.querySelector(`tr[data-id="${id}"]`);
    if (tr) {
      tr.classList.toggle("marked", on);
      const box = tr.querySelector("td.mark input");
      if (box) box.checked = on;
    }
    batchShow();
  }

  function batchShow() {
    batchBar.hidden = marked.size === 0;
    document.getElementById("batch-count").textContent = `${marked.size} marked`;
  }

  function say(textValue, kind) {
    notice.hidden = false;
    notice.className = `notice ${kind || ""}`;
    notice.textContent = textValue;
  }

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: payload === undefined ? "" : JSON.stringify(payload),
    });
    return { ok: response.ok, status: response.status, data: await response.json().catch(() => ({})) };
  }

  // Batch: one decision for every marked event, each sent with the version this page saw (each is audited).
  async function batchCommit(decision) {
    const type = document.getElementById("batch-type").value;
    if (decision === "accept" && !type) { say("Choose a type for the marked events first.", "error"); return; }
    const chosen = rows.filter((row) => marked.has(row.id)).map((row) => ({ id: row.id, version: row.version }));
    const answer = await post("/api/events/review-batch/", { decision, event_type: decision === "accept" ? type : "", events: chosen });
    if (!answer.ok) { say(Object.entries(answer.data).map(([k, v]) => `${k}: ${v}`).join("; "), "error"); return; }
    const refused = answer.data.results.filter((item) => !item.ok);
    marked.clear();
    refused.forEach((item) => marked.add(item.id));  // what was refused stays marked, to look at
    await refresh();
    const what = decision === "accept" ? `accepted as ${type}` : "rejected as false";
    say(`${answer.data.decided} events ${what}` + (refused.length ? `; ${refused.length} refused: ${refused.map((item) => `${item.id} (${item.detail})`).join(", ")}` : "."), refused.length ? "error" : "ok");
  }

  // u: undo this analyst's last decision (a new audited decision that restores the state before it).
  async function undo() {
    const answer = await post("/api/events/undo/");
    if (!answer.ok) { say(answer.data.detail || `undo refused (${answer.status})`, "error"); return; }
    await refresh();
    const event = answer.data.event;
    say(`Undid your ${answer.data.undone_action.replace("_", " ")} of event ${event.id}: it is ${event.review_state.replace("_", " ")}${event.event_type ? `, ${event.event_type}` : ""} again.`, "ok");
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
      x: () => { if (rows[selected]) mark(rows[selected].id, !marked.has(rows[selected].id)); },
      u: undo, R: refresh,
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

  document.getElementById("batch-accept").addEventListener("click", () => batchCommit("accept"));
  document.getElementById("batch-reject").addEventListener("click", () => batchCommit("reject"));
  document.getElementById("batch-clear").addEventListener("click", () => { marked.clear(); render(); });
  document.getElementById("mark-all").addEventListener("change", (event) => { rows.forEach((row) => mark(row.id, event.target.checked)); });

  load().then(presence).catch(() => {});
  progress();
  window.setInterval(presence, PRESENCE_MS);
  window.setInterval(poll, POLL_MS);
})();
