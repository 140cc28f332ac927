// The event review page: claim with heartbeat, decisions from the keyboard, next event prefetched.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const message = document.getElementById("message");
  const claimStatus = document.getElementById("claim-status");
  const typeSelect = document.getElementById("decision-type");
  const certaintyButton = document.getElementById("certainty");
  const comment = document.getElementById("comment");
  const apiBase = `/api/events/${config.event}/`;
  const queueUrl = `/?${config.queueQuery}`;
  let version = config.version;
  let certainty = config.certainty;
  let busy = false;
  const neighbours = { next: null, previous: null };

  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const eventUrl = (id) => `/queue/events/${id}/?${config.queueQuery}`;

  function say(text, kind) {
    message.hidden = !text;
    message.textContent = text || "";
    message.className = `message ${kind || ""}`;
  }

  async function api(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin", keepalive: method === "DELETE",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { status: response.status, data };
  }

  function age(seconds) {
    return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
  }

  // --- claim and heartbeat ---------------------------------------------------------------------
  let holding = false;
  async function claim() {
    const { status, data } = await api("POST", `${apiBase}claim/`);
    if (status === 200) {
      holding = true;
      claimStatus.className = "claim mine";
      claimStatus.textContent = `You hold this event (until ${new Date(data.expires_at).toLocaleTimeString()}).`;
    } else if (status === 409 && data.claim) {
      holding = false;
      claimStatus.className = "claim other";
      claimStatus.textContent = `🔒 Claimed by ${data.claim.claimed_by} for ${age(data.claim.age_s)}: you can look, they decide.`;
    }
  }
  async function release() {
    if (holding) await api("DELETE", `${apiBase}claim/`).catch(() => {});
    holding = false;
  }
  window.addEventListener("pagehide", () => { if (holding) api("DELETE", `${apiBase}claim/`).catch(() => {}); });

  // --- neighbours in the queue order, prefetched so the next event opens at once -------------------
  async function neighbour(direction) {
    const query = new URLSearchParams(config.queueQuery);
    query.set(direction === "next" ? "after_event" : "before_event", config.event);
    query.set("limit", "1");
    query.set("total", "0");
    const response = await fetch(`/api/events/?${query.toString()}`);
    if (!response.ok) return;
    const data = await response.json();
    const row = data.results[0];
    const link = document.getElementById(`${direction}-event`);
    if (!row) return;
    neighbours[direction] = eventUrl(row.id);
    link.href = neighbours[direction];
    link.hidden = false;
    if (direction === "next") {
      const hint = document.createElement("link");
      hint.rel = "prefetch";
      hint.href = neighbours.next;
      document.head.append(hint);
    }
  }

  async function go(url) {
    await release();
    window.location.assign(url);
  }

  // --- decisions -----------------------------------------------------------------------------
  function setCertainty(value) {
    certainty = value;
    certaintyButton.textContent = value;
    certaintyButton.setAttribute("aria-pressed", String(value === "suspected"));
  }

  async function decide(decision, preset) {
    if (busy) return;
    busy = true;
    const body = { decision, version, certainty, comment: comment.value };
    if (typeSelect.value) body.event_type = typeSelect.value;
    if (preset) {  // a commit button: type, certainty and state in one key
      body.event_type = preset.event_type;
      body.certainty = preset.certainty;
      typeSelect.value = preset.event_type;
      setCertainty(preset.certainty);
    }
    say(`Saving ${decision.replace("_", " ")}…`, "pending");
    const { status, data } = await api("POST", `${apiBase}review/`, body);
    busy = false;
    if (status === 200) {
      version = data.version;
      document.getElementById("event-version").textContent = String(version);
      const state = document.getElementById("review-state");
      state.textContent = data.review_state.replace("_", " ");
      state.className = `state state-${data.review_state}`;
      document.getElementById("event-type").textContent = data.event_type ? `${data.event_type} (${data.event_type_certainty})` : "—";
      comment.value = "";
      if (decision === "accept" || decision === "reject") {
        holding = false;  // a decision releases the claim on the server
        say(`${decision === "accept" ? "Accepted" : "Rejected"}; opening the next event…`, "ok");
        window.location.assign(neighbours.next || queueUrl);
      } else {
        say("Saved.", "ok");
      }
      return;
    }
    if (status === 409) {
      const current = data.event || {};
      say(`Conflict: ${data.detail} Now: ${current.review_state || "?"}, ${current.event_type || "no type"} (version ${current.version}). Reload to see it.`, "conflict");
      return;
    }
    const problems = Object.entries(data).map(([field, problem]) => `${field}: ${[].concat(problem).join(" ")}`);
    say(`Not saved. ${problems.join("; ") || `HTTP ${status}`}`, "error");
  }

  document.querySelectorAll("[data-decision]").forEach((button) => button.addEventListener("click", () => decide(button.dataset.decision)));
  const commitButtons = new Map(config.commitButtons.map((button) => [button.key, button]));
  const commit = (key) => { const button = commitButtons.get(key); if (button) decide(button.decision, button); };
  document.querySelectorAll("[data-commit]").forEach((button) => button.addEventListener("click", () => commit(button.dataset.commit)));
  certaintyButton.addEventListener("click", () => setCertainty(certainty === "known" ? "suspected" : "known"));
  document.getElementById("next-event").addEventListener("click", (event) => { event.preventDefault(); if (neighbours.next) go(neighbours.next); });
  document.getElementById("previous-event").addEventListener("click", (event) => { event.preventDefault(); if (neighbours.previous) go(neighbours.previous); });
  document.querySelectorAll("[data-help-toggle]").forEach((button) => button.addEventListener("click", () => {
    const help = document.getElementById("help");
    help.hidden = !help.hidden;
  }));

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = {
      a: () => decide("accept"),
      r: () => decide("reject"),
      s: () => decide("set_type"),
      c: () => setCertainty(certainty === "known" ? "suspected" : "known"),
      m: () => comment.focus(),
      j: () => neighbours.next && go(neighbours.next), ArrowDown: () => neighbours.next && go(neighbours.next),
      k: () => neighbours.previous && go(neighbours.previous), ArrowUp: () => neighbours.previous && go(neighbours.previous),
      q: () => go(queueUrl),
      f: () => cycleFilter(),
      g: () => toggleSpectrogram(),
      "?": () => { const help = document.getElementById("help"); help.hidden = !help.hidden; },
    };
    if (/^[1-9]$/.test(event.key)) {
      const chosen = config.typeKeys[Number(event.key) - 1];
      if (chosen) typeSelect.value = chosen;
      event.preventDefault();
      return;
    }
    if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    } else if (commitButtons.has(event.key)) {
      event.preventDefault();
      commit(event.key);
    }
  });

  // --- waveforms: drawn only when the waveform endpoint answers ----------------------------------
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      if (window.Plotly) { resolve(); return; }
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }
  const filterSelect = document.getElementById("waveform-filter");
  const channelSelect = document.getElementById("spectrogram-channel");
  const spectrogramBox = document.getElementById("spectrogram");
  const spectrogramButton = document.getElementById("spectrogram-toggle");
  const plotWidth = (box) => Math.max(400, Math.min(2400, Math.round(box.clientWidth || 900)));
  const filterQuery = () => (filterSelect.value ? `&filter=${encodeURIComponent(filterSelect.value)}` : "");

  function cycleFilter() {
    filterSelect.selectedIndex = (filterSelect.selectedIndex + 1) % filterSelect.options.length;
    waveforms();
    if (!spectrogramBox.hidden) spectrogram();
  }

  async function spectrogram() {
    const seedId = channelSelect.value;
    if (!seedId) { spectrogramBox.textContent = "No channel to show."; return; }
    spectrogramBox.innerHTML = '<p class="muted">Computing the spectrogram…</p>';
    const response = await fetch(`${document.getElementById("waveforms").dataset.url}${encodeURIComponent(seedId)}/spectrogram/?width=${plotWidth(spectrogramBox)}${filterQuery()}`);
    const data = await response.json().catch(() => ({}));
    if (!response.ok || !data.figure) {
      spectrogramBox.textContent = data.message || data.error || "No spectrogram for this channel.";
      return;
    }
    await loadScript(document.getElementById("waveforms").dataset.plotly);
    spectrogramBox.innerHTML = "";
    window.Plotly.newPlot(spectrogramBox, data.figure.data, data.figure.layout, { responsive: true, displaylogo: false });
    spectrogramBox.dataset.seedId = seedId;
  }

  function toggleSpectrogram() {
    spectrogramBox.hidden = !spectrogramBox.hidden;
    spectrogramButton.setAttribute("aria-pressed", String(!spectrogramBox.hidden));
    if (!spectrogramBox.hidden) spectrogram();
  }
  spectrogramButton.addEventListener("click", toggleSpectrogram);
  filterSelect.addEventListener("change", () => { waveforms(); if (!spectrogramBox.hidden) spectrogram(); });
  channelSelect.addEventListener("change", () => { if (!spectrogramBox.hidden) spectrogram(); });

  async function waveforms() {
    const box = document.getElementById("waveforms");
    const width = plotWidth(box);
    try {
      const response = await fetch(`${box.dataset.url}?width=${width}${filterQuery()}`);
      if (!response.ok) { box.innerHTML = '<p class="muted">No waveform display for this event.</p>'; return; }
      const data = await response.json();
      const figure = data.figure;
      if (!figure || !figure.data || !figure.data.length) {
        box.innerHTML = "";
        const note = document.createElement("p");
        note.className = "muted";
        note.textContent = data.message || "No waveforms for this event.";
        box.append(note);
        return;
      }
      await loadScript(box.dataset.plotly);
      box.innerHTML = "";
      window.Plotly.newPlot(box, figure.data, figure.layout, { responsive: true, displaylogo: false });
      box.dataset.traces = String(figure.data.length);
      const chosen = channelSelect.value;
      channelSelect.replaceChildren(...(data.rows || []).map((row) => new Option(row.seed_id, row.seed_id)));
      if (chosen && (data.rows || []).some((row) => row.seed_id === chosen)) channelSelect.value = chosen;
      if (data.problems && data.problems.length) {
        const note = document.createElement("p");
        note.className = "muted";
        note.textContent = data.problems.join("; ");
        note.id = "waveform-problems";
        const old = document.getElementById("waveform-problems");
        if (old) old.remove();
        box.after(note);
      }
    } catch (error) {
      box.innerHTML = '<p class="muted">Waveforms could not be drawn.</p>';
    }
  }

  // --- the offline map: coastlines from a package, epicentre, stations, mines and quarries ---------------
  async function drawMap() {
    const box = document.getElementById("event-map");
    const source = document.getElementById("map-figure");
    if (!box || !source) return;
    const figure = JSON.parse(source.textContent);
    await loadScript(box.dataset.plotly);
    box.innerHTML = "";
    window.Plotly.newPlot(box, figure.data, figure.layout, { responsive: true, displaylogo: false, scrollZoom: true });
    box.dataset.drawn = "true";
  }

  // --- presence: who else has this event open --------------------------------------------------
  const presence = document.getElementById("presence");
  async function beat() {
    if (document.hidden) return;
    const { status, data } = await api("POST", `${apiBase}presence/`).catch(() => ({ status: 0, data: {} }));
    if (status !== 200) return;
    const others = data.others || [];
    presence.hidden = others.length === 0;
    presence.textContent = others.length ? `👁 Also looking at this event: ${others.join(", ")}` : "";
  }
  window.addEventListener("pagehide", () => { api("DELETE", `${apiBase}presence/`).catch(() => {}); });

  drawMap();
  beat();
  window.setInterval(beat, config.presenceSeconds * 1000);
  claim();
  window.setInterval(() => { if (!document.hidden) claim(); }, config.heartbeatSeconds * 1000);
  neighbour("next");
  neighbour("previous");
  waveforms();
})();
