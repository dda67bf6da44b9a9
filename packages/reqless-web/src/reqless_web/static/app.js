// reqless dashboard: actions, charts and live updates for the server-rendered pages.
//
// The Content-Security-Policy allows no inline script or handler, so every behaviour is
// wired here from data attributes. Data from the server is only ever put into the page
// with textContent or attribute setters, never parsed as HTML.
"use strict";

(function () {
  const meta = (name) => {
    const tag = document.querySelector(`meta[name="${name}"]`);
    return tag ? tag.getAttribute("content") || "" : "";
  };
  const ROOT = meta("root-path");
  const API = ROOT + "/api/v1";
  const ROLES = { viewer: 1, operator: 2, admin: 3 };
  const ROLE = ROLES[meta("role")] || 1;
  let csrfToken = meta("csrf-token");

  const seg = (value) => encodeURIComponent(String(value));

  // ------------------------------------------------------------------ DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function formatTime(seconds) {
    if (!seconds) return "";
    const date = new Date(Number(seconds) * 1000);
    if (Number.isNaN(date.getTime())) return String(seconds);
    return date.toISOString().replace("T", " ").slice(0, 19);
  }

  function asList(value) {
    // The core sends an empty list inside JSON as {}.
    return Array.isArray(value) ? value : [];
  }

  let flashTimer = null;
  function flash(message, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = isError ? "flash error" : "flash";
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 3000);
  }

  // ------------------------------------------------------------------ API calls

  async function refreshToken() {
    const response = await fetch(API + "/session", { credentials: "same-origin" });
    if (response.ok) {
      const session = await response.json();
      if (session.csrf_token) csrfToken = session.csrf_token;
    }
  }

  async function api(method, path, body, retried) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (method !== "GET") {
      init.headers["X-CSRF-Token"] = csrfToken;
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    const response = await fetch(API + path, init);
    if (response.status === 403 && method !== "GET" && !retried) {
      // The token is tied to the session cookie and the server's secret; a restarted
      // server or an expired cookie needs a fresh one, so ask once and try again.
      await refreshToken();
      return api(method, path, body, true);
    }
    let payload = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) payload = await response.json();
    if (!response.ok) {
      const reason = payload && payload.error ? payload.error : response.statusText;
      throw new Error(`${response.status}: ${reason}`);
    }
    return payload;
  }

  // ------------------------------------------------------------------ actions

  // The message of a finished action survives the reload or navigation that follows it.
  const FLASH_KEY = "reqless-flash";

  function after(then, message) {
    if (then === "none") {
      flash(message, false);
      return;
    }
    try {
      sessionStorage.setItem(FLASH_KEY, message);
    } catch (error) {
      // Storage may be disabled; the page still updates, only the message is lost.
    }
    if (!then || then === "reload") {
      window.location.reload();
    } else if (then !== "none") {
      window.location.assign(ROOT + then);
    }
  }

  async function runAction(button) {
    const question = button.dataset.confirm;
    if (question && !window.confirm(question)) return;
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : {};
    button.disabled = true;
    try {
      const result = await api(button.dataset.method || "POST", button.dataset.post, body);
      const done = button.dataset.done || "Done";
      const count = result && typeof result.count === "number" ? ` (${result.count} jobs)` : "";
      after(button.dataset.then, done + count);
    } catch (error) {
      flash(error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  function fieldValue(input) {
    const raw = input.type === "checkbox" ? input.checked : input.value;
    switch (input.dataset.kind) {
      case "int":
        if (String(raw).trim() === "") return undefined;
        if (!/^-?\d+$/.test(String(raw).trim())) throw new Error(`${input.name}: not a whole number`);
        return parseInt(raw, 10);
      case "number":
        if (String(raw).trim() === "") return undefined;
        if (Number.isNaN(Number(raw))) throw new Error(`${input.name}: not a number`);
        return Number(raw);
      case "list":
        return String(raw).split(",").map((item) => item.trim()).filter(Boolean);
      case "json":
        try {
          return JSON.parse(raw);
        } catch (error) {
          throw new Error(`${input.name}: not valid JSON (${error.message})`);
        }
      case "bool":
        return Boolean(raw);
      default:
        return raw === "" && input.dataset.optional !== undefined ? undefined : raw;
    }
  }

  async function submitForm(form) {
    const body = {};
    try {
      for (const input of form.querySelectorAll("input[name], textarea[name], select[name]")) {
        const value = fieldValue(input);
        if (value !== undefined) body[input.name] = value;
      }
    } catch (error) {
      flash(error.message, true);
      return;
    }
    // A path like /config/{key} takes that field out of the body and into the URL.
    const path = form.dataset.api.replace(/\{(\w+)\}/g, (_, name) => {
      const value = body[name];
      delete body[name];
      return seg(value === undefined ? "" : value);
    });
    const question = form.dataset.confirm;
    if (question && !window.confirm(question)) return;
    const button = form.querySelector("button[type=submit], button:not([type])");
    if (button) button.disabled = true;
    try {
      await api(form.dataset.method || "POST", path, body);
      after(form.dataset.then, form.dataset.done || "Saved");
    } catch (error) {
      flash(error.message, true);
    } finally {
      if (button) button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const button = target && target.closest("button[data-post]");
    if (button) {
      event.preventDefault();
      runAction(button);
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.api !== undefined) {
      event.preventDefault();
      submitForm(form);
    }
  });

  // ------------------------------------------------------------------ charts

  // Bucket i of the core's 148-bucket histogram, as a label (seconds, minutes, hours, days).
  function bucketLabel(index) {
    if (index < 60) return `${index}s`;
    if (index < 119) return `${index - 59}m`;
    if (index < 142) return `${index - 118}h`;
    return `${index - 141}d`;
  }

  function drawHistogram(figure) {
    let values;
    try {
      values = asList(JSON.parse(figure.dataset.values || "[]")).map(Number);
    } catch (error) {
      values = [];
    }
    const old = figure.querySelector("svg");
    if (old) old.remove();
    const width = 740;
    const height = 160;
    const bottom = 20;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": figure.dataset.label || "histogram",
    });
    const total = values.reduce((sum, n) => sum + n, 0);
    chart.append(svg("line", {
      class: "axis", x1: 0, x2: width, y1: height - bottom, y2: height - bottom,
    }));
    if (!total) {
      const text = svg("text", { class: "nodata", x: width / 2, y: height / 2, "text-anchor": "middle" });
      text.textContent = "no samples today";
      chart.append(text);
      figure.append(chart);
      return;
    }
    const max = Math.max(...values);
    const step = width / values.length;
    values.forEach((count, index) => {
      if (!count) return;
      const barHeight = Math.max(1, ((height - bottom - 6) * count) / max);
      const bar = svg("rect", {
        class: "bar",
        x: (index * step + 0.5).toFixed(2),
        y: (height - bottom - barHeight).toFixed(2),
        width: Math.max(1, step - 1).toFixed(2),
        height: barHeight.toFixed(2),
      });
      const title = svg("title", {});
      title.textContent = `${bucketLabel(index)}: ${count}`;
      bar.append(title);
      chart.append(bar);
    });
    for (const index of [0, 30, 60, 89, 119, 130, 142]) {
      const tick = svg("text", { class: "tick", x: (index * step + 1).toFixed(2), y: height - 6 });
      tick.textContent = bucketLabel(index);
      chart.append(tick);
    }
    figure.append(chart);
  }

  function drawCharts() {
    document.querySelectorAll("figure.histogram[data-values]").forEach(drawHistogram);
  }

  // ------------------------------------------------------------------ rows

  function link(path, text) {
    return el("a", { href: ROOT + path, text });
  }

  function stateBadge(state) {
    return el("span", { class: `badge state-${state}`, text: state });
  }

  function tagChips(tags) {
    const cell = el("td", {});
    for (const tag of asList(tags)) {
      cell.append(el("a", { class: "chip", href: `${ROOT}/tags?tag=${seg(tag)}`, text: tag }));
    }
    return cell;
  }

  // The line that says what went wrong: a traceback's last line, else the first line
  // (_failure_line() in _pages.py draws the same on the server).
  function failureLine(message) {
    const lines = String(message || "").split("\n").map((l) => l.trim()).filter((l) => l);
    if (!lines.length) return "";
    const line = lines[0].startsWith("Traceback (most recent call last):") ? lines[lines.length - 1] : lines[0];
    return line.slice(0, 300);
  }

  function jobRow(job) {
    const failure = job.failure && job.failure.group ? job.failure : null;
    const note = el("td", {});
    if (failure) {
      note.append(link(`/failures/${seg(failure.group)}`, failure.group));
      note.append(el("span", { class: "msg", text: failureLine(failure.message) }));
    }
    return el(
      "tr",
      { "data-jid": job.jid },
      el("td", { class: "mono" }, link(`/jobs/${seg(job.jid)}`, job.jid)),
      el("td", { text: job.klass }),
      el("td", {}, job.queue ? link(`/queues/${seg(job.queue)}`, job.queue) : ""),
      el("td", {}, stateBadge(job.state)),
      el("td", {}, job.worker ? link(`/workers/${seg(job.worker)}`, job.worker) : ""),
      el("td", { class: "num", text: job.priority }),
      tagChips(job.tags),
      note,
    );
  }

  function recurringRow(job) {
    return el(
      "tr",
      { "data-jid": job.jid },
      el("td", { class: "mono" }, link(`/recurring/${seg(job.jid)}`, job.jid)),
      el("td", { text: job.klass }),
      el("td", { class: "num", text: job.interval }),
      el("td", { class: "num", text: job.priority }),
      el("td", { class: "num", text: job.retries }),
      el("td", { class: "num", text: job.count }),
      tagChips(job.tags),
    );
  }

  function fillRows(table, jobs) {
    const body = table.tBodies[0];
    const render = table.dataset.kind === "recurring" ? recurringRow : jobRow;
    const rows = jobs.map(render);
    if (!rows.length) {
      const columns = table.tHead ? table.tHead.rows[0].cells.length : 1;
      rows.push(el("tr", { class: "none" }, el("td", { class: "empty", colspan: columns, text: "No jobs" })));
    }
    body.replaceChildren(...rows);
  }

  function setText(selector, value) {
    document.querySelectorAll(selector).forEach((node) => {
      node.textContent = String(value);
    });
  }

  async function refreshTable(table) {
    const page = await api("GET", table.dataset.source);
    const jobs = asList(table.dataset.key ? page[table.dataset.key] : page.jobs || page);
    fillRows(table, jobs);
    if (table.id) {
      const total = page && typeof page.total === "number" ? page.total : jobs.length;
      setText(`[data-total-for="${table.id}"]`, total);
    }
  }

  // ------------------------------------------------------------------ live regions

  const COUNT_FIELDS = ["waiting", "running", "stalled", "scheduled", "depends", "throttled", "recurring"];

  function countCell(value, field) {
    const hot = field === "stalled" && value > 0;
    return el("td", { class: `num${value ? "" : " zero"}${hot ? " hot" : ""}`, "data-field": field, text: value });
  }

  function queueRow(counts) {
    const name = el("td", {}, link(`/queues/${seg(counts.name)}`, counts.name));
    if (counts.paused) name.append(" ", el("span", { class: "badge paused", text: "paused" }));
    return el("tr", { "data-queue": counts.name }, name, ...COUNT_FIELDS.map((f) => countCell(counts[f] || 0, f)));
  }

  function replaceBody(id, rows, emptyText) {
    const table = document.getElementById(id);
    if (!table) return;
    if (!rows.length) {
      const columns = table.tHead ? table.tHead.rows[0].cells.length : 1;
      rows.push(el("tr", { class: "none" }, el("td", { class: "empty", colspan: columns, text: emptyText })));
    }
    table.tBodies[0].replaceChildren(...rows);
  }

  function workerRows(workers) {
    return asList(workers).map((worker) => el(
      "tr",
      { "data-worker": worker.name },
      el("td", {}, link(`/workers/${seg(worker.name)}`, worker.name)),
      el("td", { class: "num", text: worker.jobs }),
      countCell(worker.stalled || 0, "stalled"),
    ));
  }

  function failureRows(failures) {
    return Object.entries(failures || {})
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([group, count]) => el(
        "tr",
        { "data-group": group },
        el("td", {}, link(`/failures/${seg(group)}`, group)),
        el("td", { class: "num", text: count }),
      ));
  }

  function applyQueueCounts(list) {
    const queues = asList(list);
    replaceBody("queues", queues.map(queueRow), "No queues yet");
    const totals = {};
    for (const field of COUNT_FIELDS) totals[field] = queues.reduce((sum, q) => sum + (q[field] || 0), 0);
    for (const [field, value] of Object.entries(totals)) setText(`[data-total="${field}"]`, value);
    setText("[data-total=queues]", queues.length);
  }

  async function refreshOverview() {
    const overview = await api("GET", "/overview");
    applyQueueCounts(overview.queues);
    replaceBody("failure-groups", failureRows(overview.failures), "No failures");
    setText("[data-total=failed]", Object.values(overview.failures || {}).reduce((a, b) => a + b, 0));
    replaceBody("workers", workerRows(overview.workers), "No workers");
    setText("[data-total=workers]", asList(overview.workers).length);
    if (overview.tracked) {
      setText("[data-total=tracked]", overview.tracked.jobs);
      setText("[data-total=expired]", overview.tracked.expired);
    }
    if (overview.redis) {
      for (const [key, value] of Object.entries(overview.redis)) setText(`[data-redis="${key}"]`, value);
    }
  }

  async function refreshQueue(name) {
    const detail = await api("GET", `/queues/${seg(name)}`);
    const counts = detail.counts || {};
    for (const field of COUNT_FIELDS) setText(`[data-state-count="${field}"]`, counts[field] || 0);
    const badge = document.getElementById("paused-badge");
    if (badge) badge.hidden = !counts.paused;
  }

  async function refreshFailures() {
    const failures = await api("GET", "/failures");
    replaceBody("failure-groups", failureRows(failures), "No failures");
  }

  async function refreshWorkers() {
    replaceBody("workers", workerRows(await api("GET", "/workers")), "No workers");
  }

  const body = document.body;
  const refreshers = [];
  const live = body.dataset.live || "";
  if (live === "overview") refreshers.push(refreshOverview);
  if (live === "queue") refreshers.push(() => refreshQueue(body.dataset.queue));
  if (live === "failures") refreshers.push(refreshFailures);
  if (live === "workers") refreshers.push(refreshWorkers);
  document.querySelectorAll("table[data-source]").forEach((table) => {
    refreshers.push(() => refreshTable(table));
  });

  async function refreshAll() {
    for (const refresh of refreshers) {
      try {
        await refresh();
      } catch (error) {
        setLive("error", `update failed: ${error.message}`);
        return;
      }
    }
  }

  // Events arrive in bursts (a put publishes several messages, a group retry hundreds), so
  // refreshes are coalesced: at most one in flight and one queued behind it.
  let refreshTimer = null;
  let refreshing = false;
  let refreshAgain = false;
  function scheduleRefresh() {
    if (!refreshers.length || document.hidden) return;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      // The tab may have been hidden since the update was scheduled.
      if (document.hidden) return;
      refreshing = true;
      await refreshAll();
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        scheduleRefresh();
      }
    }, 250);
  }

  function setLive(state, title) {
    const dot = document.getElementById("live");
    if (!dot) return;
    dot.className = `live ${state}`;
    dot.textContent = { on: "live", paused: "paused", error: "offline", off: "connecting" }[state] || state;
    dot.title = title || "";
  }

  function concernsThisJob(event) {
    const jid = body.dataset.jid;
    if (!jid) return false;
    try {
      const data = JSON.parse(event.data);
      if (data === jid) return true;
      if (data && typeof data === "object") {
        return data.jid === jid || (data.payload && data.payload.jid === jid);
      }
    } catch (error) {
      return event.data === jid;
    }
    return false;
  }

  const EVENT_NAMES = [
    "counts", "log", "put", "popped", "completed", "failed", "canceled", "stalled", "track",
    "untrack", "advanced", "lock_lost", "config_set", "config_unset", "unavailable",
  ];

  let source = null;
  function onEvent(event) {
    if (event.type === "unavailable") {
      // The dashboard is up but cannot reach the reqless server; counts are stale meanwhile.
      setLive("error", "the reqless server is unavailable");
      return;
    }
    if (event.type === "counts") setLive("on", "receiving live updates");
    if (body.dataset.jid && event.type !== "counts" && concernsThisJob(event)) {
      const notice = document.getElementById("changed");
      if (notice) notice.hidden = false;
    }
    scheduleRefresh();
  }

  function connect() {
    if (source || !window.EventSource) return;
    source = new EventSource(API + "/events");
    setLive("off");
    source.onopen = () => setLive("on", "receiving live updates");
    source.onerror = () => setLive("error", "reconnecting to the event stream");
    source.onmessage = onEvent;
    for (const name of EVENT_NAMES) source.addEventListener(name, onEvent);
  }

  function disconnect() {
    if (source) {
      source.close();
      source = null;
    }
  }

  // A hidden tab neither holds a stream open nor redraws; it catches up when shown again.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      disconnect();
      setLive("paused", "updates paused while the tab is hidden");
    } else {
      connect();
      scheduleRefresh();
    }
  });

  drawCharts();
  try {
    const left = sessionStorage.getItem(FLASH_KEY);
    if (left) {
      sessionStorage.removeItem(FLASH_KEY);
      flash(left, false);
    }
  } catch (error) {
    // No storage, no carried-over message.
  }
  if (!document.hidden) connect();
  else setLive("paused", "updates paused while the tab is hidden");

  // Lets the browser tests (and a curious operator's console) force an update.
  window.reqlessDashboard = { refresh: refreshAll };
})();
