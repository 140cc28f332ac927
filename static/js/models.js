// The model page: Plotly plots from the stored run data, live run status at the top, train/promote/rollback
// buttons; promoting a worse candidate (or one compared on few held-out events) asks for confirmation and a reason.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("model-data").textContent);
  const csrf = () => (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const message = document.getElementById("action-message");
  const layout = (title, x, y) => ({ title: { text: title }, margin: { t: 40, l: 55, r: 10, b: 45 },
    xaxis: { title: { text: x } }, yaxis: { title: { text: y } }, legend: { orientation: "h", y: -0.25 } });
  const config = { responsive: true, displaylogo: false };
  const draw = (id, traces, lay) => { const el = document.getElementById(id); if (el) Plotly.newPlot(el, traces, lay, config); };

  function plots() {
    const c = data.comparison;
    if (c && c.curves && c.curves.candidate) {
      const sets = [["candidate", c.curves.candidate, "solid"], ["active", c.curves.active, "dot"]].filter((s) => s[1]);
      const pr = [];
      sets.forEach(([who, curves, dash]) => Object.entries(curves.precision_recall).forEach(([name, curve]) =>
        pr.push({ x: curve.recall, y: curve.precision, name: `${name} (${who})`, mode: "lines", line: { dash } })));
      draw("plot-pr", pr, layout("Precision-recall per class (held-out)", "recall", "precision"));
      const cal = [{ x: [0, 1], y: [0, 1], name: "perfect", mode: "lines", line: { dash: "dash", color: "#999" } }];
      sets.forEach(([who, curves, dash]) => cal.push({ x: curves.calibration.confidence, y: curves.calibration.accuracy,
        name: who, mode: "lines+markers", line: { dash }, text: curves.calibration.count.map((n) => `${n} events`) }));
      draw("plot-calibration", cal, layout("Calibration (top class)", "predicted probability", "observed accuracy"));
      const m = c.curves.candidate;
      draw("plot-confusion", [{ type: "heatmap", z: m.confusion, x: m.classes, y: m.classes, colorscale: "Blues",
        text: m.confusion, texttemplate: "%{text}" }], layout("Confusion matrix (candidate)", "predicted", "analyst decision"));
      const effort = [];
      sets.forEach(([who, curves, dash]) => Object.entries(curves.effort).forEach(([order, curve]) => {
        if (who === "active" && order !== "importance") return; // the baselines do not depend on the model
        const label = order === "importance" ? `${who} importance` : `${order} (baseline)`;
        effort.push({ x: curve.reviewed, y: curve.found, mode: "lines", line: { dash },
          name: `${label}: 95 % at ${curve.at_95 === null ? "–" : (100 * curve.at_95).toFixed(1) + " %"}` });
      }));
      draw("plot-effort", effort, layout("Review effort: events of interest found", "share of queue reviewed", "share found"));
      const imp = [];
      sets.forEach(([who, curves]) => {
        const entries = Object.entries(curves.feature_importance || {}).slice(0, 15).reverse();
        imp.push({ type: "bar", orientation: "h", name: who, y: entries.map((e) => e[0]), x: entries.map((e) => e[1]) });
      });
      draw("plot-importance", imp, { ...layout("Feature importance (mean |Δ importance|, occlusion)", "", ""), margin: { l: 220, t: 40 } });
    }
    const days = Object.keys(data.labels.per_day);
    const sources = [...new Set(days.flatMap((d) => Object.keys(data.labels.per_day[d])))];
    draw("plot-labels-day", sources.map((s) => ({ type: "bar", name: s, x: days, y: days.map((d) => data.labels.per_day[d][s] || 0) })),
      { ...layout("Labels per day", "day", "labels"), barmode: "stack" });
    const classes = Object.keys(data.labels.per_class);
    draw("plot-labels-class", [{ type: "bar", x: classes, y: classes.map((k) => data.labels.per_class[k]) }],
      layout(`Labels per class (last ${data.labels.days} days)`, "decision class", "labels"));
    const f = data.filters;
    if (f && f.kernels) {
      draw("plot-filters", f.kernels.map((k, i) => ({ x: f.time_s, y: k, mode: "lines", name: `filter ${i + 1}` })),
        layout("First conv filters as waveforms", "time (s)", "weight"));
      draw("plot-responses", f.response_db.map((r, i) => ({ x: f.frequency_hz, y: r, mode: "lines", name: `filter ${i + 1}` })),
        layout("First conv filters: frequency response", "frequency (Hz)", "dB re max"));
    }
  }

  function runs(list) {
    const body = document.querySelector("#runs tbody");
    body.replaceChildren(...list.map((run) => {
      const row = document.createElement("tr");
      const cells = [run.id, run.status, null, run.trigger, run.requested_by, (run.started_at || "").slice(0, 19),
        run.duration_s ?? "", run.candidate || "", (run.promotion_decision && run.promotion_decision.reason) || ""];
      cells.forEach((value, i) => {
        const cell = document.createElement("td");
        if (i === 2) {
          const bar = document.createElement("progress");
          bar.max = 1; bar.value = run.progress; bar.textContent = `${Math.round(100 * run.progress)} %`;
          bar.setAttribute("aria-label", `run ${run.id} progress`);
          cell.append(bar, ` ${Math.round(100 * run.progress)} %`);
        } else cell.textContent = value;
        if (i === 1 && run.status === "failed") { cell.className = "failed"; cell.title = run.error; cell.textContent = `failed: ${run.error}`; }
        row.append(cell);
      });
      return row;
    }));
    const open = list.find((run) => run.status === "queued" || run.status === "running");
    document.getElementById("run-log").textContent = list.length ? list[0].log : "";
    status(open || list[0]);
    return open;
  }

  // The newest run (or the open one) in one line at the top of the page, with its progress bar and last log line.
  function status(run) {
    const line = document.getElementById("run-status");
    if (!run) { line.textContent = ""; return; }
    const lastLog = (run.log || "").trim().split("\n").pop() || "";
    const when = (run.finished_at || run.started_at || run.created_at || "").slice(0, 19).replace("T", " ");
    line.replaceChildren();
    const words = document.createElement("span");
    words.textContent = `Run ${run.id} ${run.status}` + (when ? ` (${when} UTC)` : "");
    line.append(words);
    if (run.status === "queued" || run.status === "running") {
      const bar = document.createElement("progress");
      bar.max = 1; bar.value = run.progress;
      bar.setAttribute("aria-label", `run ${run.id} progress`);
      line.append(" ", bar, ` ${Math.round(100 * run.progress)} %`);
    }
    if (run.status === "failed") line.append(`: ${run.error}`);
    else if (lastLog) line.append(` · ${lastLog.replace(/^\S+\s+/, "")}`);
  }

  let polling = null;
  async function refresh() {
    if (document.hidden) return;
    const answer = await fetch(`/api/models/${data.kind}/`, { headers: { Accept: "application/json" } }).catch(() => null);
    if (!answer || !answer.ok) return;
    const fresh = await answer.json();
    const open = runs(fresh.runs);
    if (open) { watch(); return; }
    const finishedNow = polling !== null;
    if (polling) { clearInterval(polling); polling = null; }
    if (finishedNow) window.location.reload(); // the comparison and plots of the new run
  }
  function watch() { if (!polling) polling = setInterval(refresh, 2000); }
  setInterval(() => { if (!polling) refresh(); }, 15000); // a run started elsewhere (another analyst, the schedule)

  async function post(url, text) {
    message.textContent = text;
    const answer = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(),
      Accept: "application/json" }, body: "{}" });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) { message.textContent = body.detail || JSON.stringify(body); return null; }
    return body;
  }
  const train = document.getElementById("train-now");
  if (train) train.addEventListener("click", async () => {
    const run = await post(`/api/models/${data.kind}/train/`, "starting a training run…");
    if (run) { message.textContent = `run ${run.id} queued`; refresh(); watch(); }
  });
  const dialog = document.getElementById("promote-dialog");
  function ask(version, warnings) {
    // Resolves to the reason typed, or null when cancelled.
    return new Promise((resolve) => {
      document.getElementById("promote-version").textContent = version;
      document.getElementById("promote-dialog-warnings").replaceChildren(...warnings.map((warning) => {
        const item = document.createElement("li"); item.textContent = `⚠ ${warning}`; return item;
      }));
      const reason = document.getElementById("promote-reason");
      reason.value = "";
      reason.required = warnings.length > 0;
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "promote" ? reason.value.trim() : null), { once: true });
      dialog.showModal();
      reason.focus();
    });
  }

  async function promote(version, warnings) {
    const reason = await ask(version, warnings);
    if (reason === null) { message.textContent = "promotion cancelled"; return; }
    message.textContent = "promoting…";
    const answer = await fetch(`/api/models/${data.kind}/versions/${version}/promote/`, { method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: JSON.stringify({ reason }) });
    const body = await answer.json().catch(() => ({}));
    if (answer.ok) { window.location.reload(); return; }
    if (answer.status === 400 && body.reason) {  // the server knows a warning this page did not show: ask again
      message.textContent = body.reason;
      promote(version, [String(body.reason)]);
      return;
    }
    message.textContent = body.detail || JSON.stringify(body);
  }

  document.querySelectorAll("button.promote").forEach((button) => button.addEventListener("click", () => {
    const version = button.dataset.version;
    const c = data.comparison;
    const warnings = c && c.candidate.version === version ? c.verdict.warnings : [];
    promote(version, warnings);
  }));
  document.querySelectorAll("button.rollback").forEach((button) => button.addEventListener("click", async () => {
    if (!window.confirm(`rollback ${button.dataset.version}? Unreviewed events will be rescored.`)) return;
    const done = await post(`/api/models/${data.kind}/versions/${button.dataset.version}/rollback/`, "rollback…");
    if (done) window.location.reload();
  }));

  plots();
  if (runs(data.runs)) watch();
})();
