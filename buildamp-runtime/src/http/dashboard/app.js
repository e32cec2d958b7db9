// BuildAmp's dashboard. Every value from the server is set as text (never as markup), every
// request goes to this origin, and every change sends X-BuildAmp-Dashboard.
"use strict";

const base = "/buildamp/dashboard";
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
  }
  return node;
}

function badge(text) {
  return el("span", { class: "badge " + text }, text.replace("_", " "));
}

function percent(rate) {
  return rate == null ? "–" : (rate * 100).toFixed(1) + " %";
}

function ago(stamp) {
  if (!stamp) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(stamp)) / 1000));
  if (seconds < 60) return seconds + " s ago";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
  return new Date(stamp).toISOString().slice(0, 16).replace("T", " ");
}

function short(id) {
  return id ? String(id).slice(0, 8) : "";
}

function filters() {
  const params = new URLSearchParams();
  for (const [name, id] of [["endpoint", "filter-endpoint"], ["type", "filter-type"], ["status", "filter-status"]]) {
    const value = $(id).value;
    if (value) params.set(name, value);
  }
  return params;
}

function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = !text;
}

// Keeps a select's options in step with `values` ([value, label]), its choice kept.
function options(select, values) {
  const chosen = select.value;
  const wanted = [["", "all"], ...values];
  const current = Array.from(select.options).map((o) => o.value + "\u0000" + o.textContent);
  if (current.join("\u0001") === wanted.map(([v, l]) => v + "\u0000" + l).join("\u0001")) return;
  select.replaceChildren(...wanted.map(([value, label]) => el("option", { value }, label)));
  select.value = wanted.some(([v]) => v === chosen) ? chosen : "";
}

let endpointNames = new Map();

function endpointName(id) {
  return id ? endpointNames.get(id) || short(id) : "#[target]";
}

function renderTiles(total) {
  $("deliveries").textContent = total.deliveries;
  $("success-rate").textContent = percent(total.success_rate);
  $("failure-rate").textContent = percent(total.failure_rate);
  $("retry-rate").textContent = percent(total.retry_rate);
  $("p95").textContent = total.p95_ms == null ? "–" : Math.round(total.p95_ms) + " ms";
}

function renderAlerts(alerts) {
  const open = alerts.open.map((a) =>
    el("li", { class: "alert", "data-rule": a.rule, "data-subject": a.subject },
      el("strong", {}, a.rule.replace("_", " ")), " · ", a.summary, " · since ", ago(a.fired_at)));
  const resolved = alerts.recent.filter((a) => a.resolved_at).slice(0, 3).map((a) =>
    el("li", { class: "resolved", "data-rule": a.rule }, "resolved ", ago(a.resolved_at), ": ", a.summary));
  $("alerts").replaceChildren(...(open.length ? open : [el("li", { class: "none" }, "No alert is open.")]), ...resolved);
}

function renderDestinations(destinations) {
  $("destinations").replaceChildren(...destinations.map((d) => {
    const healthy = d.status === "enabled" && d.circuit === "closed";
    const actions = el("td", {});
    if (d.endpoint_id) {
      actions.append(el("button", {
        class: "replay", type: "button", "data-endpoint": d.endpoint_id,
        title: "Retry every dead letter of this endpoint, once each",
        onclick: (event) => replay(d.endpoint_id, event.target),
      }, "Replay dead letters"));
    }
    return el("tr", { class: healthy ? "healthy" : "unhealthy", "data-destination": d.destination, "data-circuit": d.circuit },
      el("td", { title: d.destination }, d.name, d.description ? el("div", { class: "muted" }, d.description) : ""),
      el("td", {}, d.kind === "endpoint" ? "endpoint" : "target: " + d.webhooks.join(", ")),
      el("td", {}, badge(d.status), d.disabled_reason ? " " + d.disabled_reason : ""),
      el("td", {}, badge(d.circuit), d.until ? " until " + new Date(d.until).toLocaleTimeString() : ""),
      el("td", {}, d.consecutive_failures),
      el("td", {}, ago(d.last_success)),
      actions);
  }));
}

function renderDeadLetters(rows) {
  $("dead-letters").replaceChildren(...rows.map((r) =>
    el("tr", { "data-id": r.id },
      el("td", { title: r.updated_at }, ago(r.updated_at)),
      el("td", {}, r.webhook),
      el("td", {}, endpointName(r.endpoint_id)),
      el("td", {}, r.attempts + " / " + r.max_attempts),
      el("td", {}, r.error || ""),
      el("td", { class: "preview" }, r.preview),
      el("td", {}, el("button", {
        class: "retry", type: "button", "data-id": r.id,
        onclick: (event) => retry(r.id, event.target),
      }, "Retry")))));
}

function refreshCharts() {
  const query = new URLSearchParams(filters());
  query.delete("status");
  query.set("t", Date.now());
  for (const metric of ["rate", "latency", "failures"]) {
    $("chart-" + metric).src = base + "/chart/" + metric + ".svg?" + query;
  }
}

async function refresh() {
  let response;
  try {
    response = await fetch(base + "/data?" + filters(), { credentials: "same-origin" });
  } catch (error) {
    notice("The server cannot be reached: " + error.message);
    return;
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    notice((body.error || response.statusText) + (body.path ? " (" + body.path + ")" : ""));
    return;
  }
  const data = await response.json();
  endpointNames = new Map(data.destinations.filter((d) => d.endpoint_id).map((d) => [d.endpoint_id, d.description || d.name]));
  options($("filter-endpoint"), data.destinations.filter((d) => d.endpoint_id).map((d) => [d.endpoint_id, d.description || d.name]));
  options($("filter-type"), data.types.map((t) => [t, t]));
  renderTiles(data.overview.total);
  renderAlerts(data.alerts);
  renderDestinations(data.destinations);
  renderDeadLetters(data.dead_letters);
  refreshCharts();
}

function liveRow(r) {
  return el("tr", { "data-id": r.id, "data-status": r.status, "data-webhook": r.webhook },
    el("td", { title: r.updated_at }, new Date(r.updated_at).toLocaleTimeString()),
    el("td", {}, r.webhook),
    el("td", {}, endpointName(r.endpoint_id)),
    el("td", {}, badge(r.status)),
    el("td", {}, r.attempts + " / " + r.max_attempts),
    el("td", {}, r.error || ""),
    el("td", { class: "preview" }, r.preview));
}

let source = null;

function follow() {
  if (source) source.close();
  $("live").replaceChildren();
  source = new EventSource(base + "/live?" + filters());
  source.addEventListener("open", () => {
    $("stream").textContent = "live";
    $("stream").className = "stream live";
  });
  source.addEventListener("error", () => {
    $("stream").textContent = "reconnecting…";
    $("stream").className = "stream down";
  });
  source.addEventListener("delivery", (event) => {
    const row = JSON.parse(event.data);
    const live = $("live");
    const fresh = liveRow(row);
    const old = Array.from(live.children).find((tr) => tr.dataset.id === row.id);
    if (old) old.remove();
    live.prepend(fresh);
    while (live.children.length > 100) live.lastChild.remove();
  });
}

async function change(url, button, done) {
  button.disabled = true;
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-BuildAmp-Dashboard": "1", "Content-Type": "application/json" },
    body: "{}",
  });
  const body = await response.json().catch(() => ({}));
  notice(response.ok ? done(body) : body.error || response.statusText);
  button.disabled = false;
  refresh();
}

function retry(id, button) {
  return change(base + "/executions/" + encodeURIComponent(id) + "/retry", button, () => "Retried " + short(id) + ": it is queued again.");
}

function replay(endpoint, button) {
  return change(base + "/endpoints/" + encodeURIComponent(endpoint) + "/replay", button,
    (job) => "Replaying " + job.total + " dead letters of " + endpointName(endpoint) + ".");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const id of ["filter-endpoint", "filter-type", "filter-status"]) {
    $(id).addEventListener("change", () => {
      refresh();
      follow();
    });
  }
  refresh();
  follow();
  setInterval(refresh, 5000);
});
