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
  // Opened from a list (the most informative, likely mislabelled, ...): j/k walk that list, and q returns to it.
  const walk = window.seistriageWalk.current();
  const queueUrl = walk ? walk.list : `/?${config.queueQuery}`;
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
      claimStatus.textContent = `You hold this event (until ${new Date(data.expires_at).toISOString().slice(11, 19)} UTC).`;
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

  // --- neighbours in the queue order (or the list's), prefetched so the next event opens at once ------
  async function neighbour(direction) {
    if (walk) {
      if (walk[direction]) show(direction, walk[direction]);
      return;
    }
    const query = new URLSearchParams(config.queueQuery);
    query.set(direction === "next" ? "after_event" : "before_event", config.event);
    query.set("limit", "1");
    query.set("total", "0");
    const response = await fetch(`/api/events/?${query.toString()}`);
    if (!response.ok) return;
    const data = await response.json();
    const row = data.results[0];
    if (row) show(direction, eventUrl(row.id));
  }

  function show(direction, url) {
    const link = document.getElementById(`${direction}-event`);
    neighbours[direction] = url;
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
      p: () => armPick("P"),
      S: () => armPick("S"),
      l: () => setView({ align: !view.align }),
      t: () => cycleComponents(),
      n: () => setView({ scale: view.scale === "common" ? "trace" : "common" }),
      v: () => setView({ response: view.response ? "" : "velocity" }),
      z: () => { view.start = view.end = null; waveforms(); },
      Escape: () => armPick(null),
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
  const waveformBox = document.getElementById("waveforms");
  const filterSelect = document.getElementById("waveform-filter");
  const componentSelect = document.getElementById("waveform-components");
  const alignButton = document.getElementById("waveform-align");
  const scaleButton = document.getElementById("waveform-scale");
  const responseButton = document.getElementById("waveform-response");
  const pickStatus = document.getElementById("pick-status");
  const channelSelect = document.getElementById("spectrogram-channel");
  const spectrogramBox = document.getElementById("spectrogram");
  const spectrogramButton = document.getElementById("spectrogram-toggle");
  const plotWidth = (box) => Math.max(400, Math.min(2400, Math.round(box.clientWidth || 900)));
  const filterQuery = () => (filterSelect.value ? `&filter=${encodeURIComponent(filterSelect.value)}` : "");
  // What the record section shows; start/end (x-axis seconds) are set by zooming and panning.
  const view = { start: null, end: null, align: false, components: "all", scale: "trace", response: "" };
  let shown = null;  // the last record section drawn (the API's answer)
  let requests = 0;
  let redrawing = false;
  let refetchTimer = null;
  let pickPhase = null;  // "P" or "S" while the next click on a trace places a pick
  let lastView = { ...view };  // the view last drawn, restored when a change is refused

  function waveformUrl() {
    const query = new URLSearchParams({ width: String(plotWidth(waveformBox)) });
    if (filterSelect.value) query.set("filter", filterSelect.value);
    if (view.start !== null && view.end !== null) {
      query.set("start", view.start.toFixed(3));
      query.set("end", view.end.toFixed(3));
    }
    if (view.align) query.set("align", "p");
    if (view.components !== "all") query.set("components", view.components);
    if (view.scale !== "trace") query.set("scale", view.scale);
    if (view.response) query.set("response", view.response);
    return `${waveformBox.dataset.url}?${query.toString()}`;
  }

  function cycleFilter() {
    filterSelect.selectedIndex = (filterSelect.selectedIndex + 1) % filterSelect.options.length;
    waveforms();
    if (!spectrogramBox.hidden) spectrogram();
  }

  async function spectrogram() {
    const seedId = channelSelect.value;
    if (!seedId) { spectrogramBox.textContent = "No channel to show."; return; }
    spectrogramBox.innerHTML = '<p class="muted">Computing the spectrogram…</p>';
    const response = await fetch(`${waveformBox.dataset.url}${encodeURIComponent(seedId)}/spectrogram/?width=${plotWidth(spectrogramBox)}${filterQuery()}`);
    const data = await response.json().catch(() => ({}));
    if (!response.ok || !data.figure) {
      spectrogramBox.textContent = data.message || data.error || "No spectrogram for this channel.";
      return;
    }
    await loadScript(waveformBox.dataset.plotly);
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

  // A change of view keeps no zoom: seconds after the origin and seconds after P are different axes.
  function showView() {
    alignButton.setAttribute("aria-pressed", String(view.align));
    scaleButton.setAttribute("aria-pressed", String(view.scale === "common"));
    scaleButton.textContent = view.scale === "common" ? "Common scale" : "Per-trace scale";
    responseButton.setAttribute("aria-pressed", String(Boolean(view.response)));
    componentSelect.value = view.components;
  }
  function setView(change) {
    Object.assign(view, change, { start: null, end: null });
    showView();
    waveforms();
  }
  alignButton.addEventListener("click", () => setView({ align: !view.align }));
  scaleButton.addEventListener("click", () => setView({ scale: view.scale === "common" ? "trace" : "common" }));
  responseButton.addEventListener("click", () => setView({ response: view.response ? "" : "velocity" }));
  componentSelect.addEventListener("change", () => setView({ components: componentSelect.value }));
  function cycleComponents() {
    const options = Array.from(componentSelect.options).map((option) => option.value);
    setView({ components: options[(options.indexOf(view.components) + 1) % options.length] });
  }

  const isWaveform = (trace) => trace.meta && trace.meta.scale !== undefined;

  // Fewer samples drawn in [a, b] than the plot has pixels on some trace (or a range past the data fetched):
  // the window is fetched again, and the server sends every sample a pixel column can show.
  function needsSamples(a, b) {
    if (!shown) return false;
    const fetched = shown.window;
    if (a < fetched.start_s - 1e-6 || b > fetched.end_s + 1e-6) return true;
    const pixels = waveformBox._fullLayout ? waveformBox._fullLayout.xaxis._length : plotWidth(waveformBox);
    return shown.figure.data.filter(isWaveform).some((trace) => {
      let count = 0;
      for (const x of trace.x) if (x !== null && x >= a && x <= b) count += 1;
      return count < pixels;
    });
  }

  function relayout(change) {
    if (redrawing) return;
    if (change["xaxis.autorange"]) {
      view.start = view.end = null;
      waveforms();
      return;
    }
    const range = change["xaxis.range"] || [change["xaxis.range[0]"], change["xaxis.range[1]"]];
    const [a, b] = range.map(Number);
    if (!Number.isFinite(a) || !Number.isFinite(b) || !(b > a)) return;
    if (!needsSamples(a, b)) return;
    view.start = a;
    view.end = b;
    window.clearTimeout(refetchTimer);
    refetchTimer = window.setTimeout(waveforms, 200);
  }

  function note(id, text, after) {
    let element = document.getElementById(id);
    if (!text) { if (element) element.remove(); return; }
    if (!element) {
      element = document.createElement("p");
      element.id = id;
      element.className = "muted small";
      after.after(element);
    }
    element.textContent = text;
  }

  async function waveforms() {
    const box = waveformBox;
    const url = waveformUrl();
    try {
      requests += 1;
      const asked = requests;
      box.dataset.requests = String(requests);
      const response = await fetch(url);
      const data = await response.json().catch(() => ({}));
      // A later request (a key, a zoom) supersedes this one: an answer that arrives after it is dropped, so the
      // view drawn is always the one asked for last.
      if (asked !== requests) return;
      if (!response.ok) {
        if (!shown) box.innerHTML = '<p class="muted">No waveform display for this event.</p>';
        Object.assign(view, lastView);
        showView();
        note("waveform-problems", data.error ? `Not shown: ${data.error}` : "No waveform display for this event.", document.getElementById("gap-summary"));
        return;
      }
      const figure = data.figure;
      if ((!figure || !figure.data || !figure.data.length) && shown) {
        // a zoom or view with no samples in it keeps the last figure and says why
        note("waveform-problems", data.message || "No waveforms in this window.", document.getElementById("gap-summary"));
        return;
      }
      if (!figure || !figure.data || !figure.data.length) {
        box.innerHTML = "";
        shown = null;
        const empty = document.createElement("p");
        empty.className = "muted";
        empty.textContent = data.message || "No waveforms for this event.";
        box.append(empty);
        return;
      }
      await loadScript(box.dataset.plotly);
      if (asked !== requests) return;
      redrawing = true;
      figure.layout.uirevision = "keep";
      figure.layout.dragmode = "zoom";
      figure.layout.title = undefined;  // the page's heading names the event
      figure.layout.margin = Object.assign({}, figure.layout.margin, { t: 28 });
      figure.layout.legend = { orientation: "h", x: 0, y: 1, yanchor: "bottom", font: { size: 10 } };
      if (!shown) {
        box.innerHTML = "";
        await window.Plotly.newPlot(box, figure.data, figure.layout, { responsive: true, displaylogo: false, doubleClick: "autosize", showTips: false });
        box.on("plotly_relayout", relayout);
      } else {
        await window.Plotly.react(box, figure.data, figure.layout, { responsive: true, displaylogo: false, doubleClick: "autosize", showTips: false });
      }
      redrawing = false;
      shown = data;
      lastView = { ...view };
      box.dataset.traces = String(figure.data.filter(isWaveform).length);
      box.dataset.points = String((data.rows || []).reduce((sum, row) => sum + row.points, 0));
      box.dataset.saliency = String((data.saliency || []).length);
      box.dataset.window = `${data.window.start_s},${data.window.end_s}`;
      box.dataset.aligned = String(data.window.aligned);
      const chosen = channelSelect.value;
      channelSelect.replaceChildren(...(data.rows || []).map((row) => new Option(row.seed_id, row.seed_id)));
      if (chosen && (data.rows || []).some((row) => row.seed_id === chosen)) channelSelect.value = chosen;
      const summary = document.getElementById("gap-summary");
      summary.textContent = data.gap_summary || "";
      summary.title = (data.gaps || []).join("\n");
      note("waveform-units", data.units_note, summary);
      note("waveform-problems", (data.problems || []).join("; "), summary);
      const saliencyNote = document.getElementById("saliency-note");
      saliencyNote.textContent = data.cnn_model
        ? `Shaded: where the CNN (${data.cnn_model}) looked, on ${data.saliency.length} channel${data.saliency.length === 1 ? "" : "s"}.`
        : "No CNN saliency on the channels shown (the CNN shades the channels it classified, verticals first).";
    } catch (error) {
      redrawing = false;
      if (!shown) box.innerHTML = '<p class="muted">Waveforms could not be drawn.</p>';
    }
  }

  // --- picking: p (P) or S (S), then a click on a trace -----------------------------------------
  function armPick(phase) {
    pickPhase = pickPhase === phase ? null : phase;
    waveformBox.classList.toggle("picking", Boolean(pickPhase));
    pickStatus.textContent = pickPhase ? `Click on a trace to place ${pickPhase} (Esc cancels).` : "";
  }

  async function placePick(event) {
    if (!pickPhase || !shown || !waveformBox._fullLayout) return;
    const area = waveformBox.querySelector(".nsewdrag");
    if (!area) return;
    const box = area.getBoundingClientRect();
    if (event.clientX < box.left || event.clientX > box.right || event.clientY < box.top || event.clientY > box.bottom) return;
    event.stopPropagation();
    event.preventDefault();
    const layout = waveformBox._fullLayout;
    const x = layout.xaxis.p2c(event.clientX - box.left);
    const y = layout.yaxis.p2c(event.clientY - box.top);
    const row = (shown.rows || [])[Math.round(-y)];
    if (!row) return;
    const phase = pickPhase;
    const seconds = shown.window.origin_epoch_s + row.offset_s + x;
    armPick(null);
    pickStatus.textContent = `Saving ${phase} on ${row.seed_id}…`;
    const { status, data } = await api("POST", `${apiBase}picks/`, { seed_id: row.seed_id, phase, time: new Date(seconds * 1000).toISOString() });
    if (status !== 201) {
      const problems = Object.entries(data).map(([field, problem]) => `${field}: ${[].concat(problem).join(" ")}`);
      pickStatus.textContent = `${phase} pick not saved: ${problems.join("; ") || `HTTP ${status}`}`;
      return;
    }
    version = data.version;
    document.getElementById("event-version").textContent = String(version);
    pickStatus.textContent = `${data.moved ? "Moved" : "Added"} manual ${phase} pick on ${data.seed_id} at ${data.time.slice(11, 23)} (${data.author}).`;
    const cells = [data.time.slice(11, 26), data.seed_id, data.phase, "", "", `manual (${data.author})`];
    const table = document.querySelector("#picks tbody");
    if (table) {
      const line = document.createElement("tr");
      line.className = "pick-workbench";
      for (const text of cells) { const cell = document.createElement("td"); cell.textContent = text; line.append(cell); }
      table.prepend(line);
    }
    waveforms();
  }
  waveformBox.addEventListener("click", placePick, true);

  // --- the offline map: coastlines from a package, epicentre, stations, mines and quarries ---------------
  async function drawMap() {
    const box = document.getElementById("event-map");
    const source = document.getElementById("map-figure");
    if (!box || !source) return;
    const figure = JSON.parse(source.textContent);
    // a small map beside the waveforms: legend inside the plot, no axis titles
    Object.assign(figure.layout, {
      height: box.clientHeight || 220,
      margin: { l: 36, r: 6, t: 6, b: 24 },
      legend: { orientation: "h", x: 0, y: 1, yanchor: "top", bgcolor: "rgba(255,255,255,0.75)", font: { size: 9 } },
    });
    for (const axis of ["xaxis", "yaxis"]) if (figure.layout[axis]) figure.layout[axis].title = undefined;
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
  if (walk) window.seistriageWalk.announce(walk);
  neighbour("next");
  neighbour("previous");
  waveforms();
})();
