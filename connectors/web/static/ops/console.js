/* Careline ops console: KPIs, the automation scope (switches, history, roll back), audit log, breaker.
   Every call carries the ops bearer token; the scope API is /api/ops/scope*, KPIs /api/ops/kpis. */
(function () {
  "use strict";
  const TOKEN_KEY = "careline-ops-token";
  const REFRESH_MS = 15000;
  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem(TOKEN_KEY), window: "day", catalog: null, scope: null, timer: null };

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${state.token}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data.error || `HTTP ${response.status}`);
    return data;
  }

  function node(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "className") el.className = value;
      else if (key.startsWith("data-") || key === "type" || key === "role" || key.startsWith("aria-")) el.setAttribute(key, value);
      else el[key] = value;
    }
    for (const child of children) if (child !== null && child !== undefined) el.append(child);
    return el;
  }

  function say(text, kind) {
    const status = $("status");
    status.textContent = text || "";
    status.className = `status ${kind || ""}`;
  }

  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const num = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits || 0));
  function secs(v) {
    if (v === null || v === undefined) return "–";
    const s = Math.round(v), m = Math.floor(s / 60);
    return m ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  }
  const when = (ts) => new Date(ts * 1000).toLocaleString();

  /* ---------- KPIs ---------- */
  const TILES = [
    ["conversations", "Conversations", (k) => num(k.conversations)],
    ["containment_rate", "Containment", (k) => pct(k.containment_rate)],
    ["escalation_rate", "Escalation rate", (k) => pct(k.escalation_rate)],
    ["knowledge_answer_rate", "Knowledge answered", (k) => pct(k.knowledge_answer_rate)],
    ["knowledge_dont_know_rate", "Don't know", (k) => pct(k.knowledge_dont_know_rate)],
    ["auth_success_rate", "Auth success", (k) => pct(k.auth_success_rate)],
    ["auth_lockout_rate", "Auth lockout", (k) => pct(k.auth_lockout_rate)],
    ["csat_average", "CSAT (1-5)", (k) => (k.csat_average === null ? "–" : `${num(k.csat_average, 2)} (${k.csat_responses})`)],
    ["bot_handling_seconds", "Bot handling", (k) => secs(k.bot_handling_seconds)],
    ["agent_handling_seconds", "Agent handling", (k) => secs(k.agent_handling_seconds)],
    ["pickup_seconds_avg", "Time to pickup", (k) => secs(k.pickup_seconds_avg)],
    ["fcr_rate", "FCR proxy", (k) => pct(k.fcr_rate)],
  ];
  const COLUMNS = [
    ["Conversations", (k) => num(k.conversations)], ["Containment", (k) => pct(k.containment_rate)],
    ["Escalation", (k) => pct(k.escalation_rate)], ["Knowledge answered", (k) => pct(k.knowledge_answer_rate)],
    ["Auth success", (k) => pct(k.auth_success_rate)], ["CSAT", (k) => num(k.csat_average, 2)],
    ["Bot AHT", (k) => secs(k.bot_handling_seconds)], ["Agent AHT", (k) => secs(k.agent_handling_seconds)],
    ["FCR", (k) => pct(k.fcr_rate)],
  ];

  function renderWindows() {
    const box = $("windows");
    box.replaceChildren(...state.catalog.windows.map((w) => {
      const button = node("button", { type: "button", role: "tab", "data-window": w, textContent: w,
        "aria-selected": String(w === state.window) });
      button.addEventListener("click", () => { state.window = w; renderWindows(); loadKpis(); });
      return button;
    }));
  }

  function renderTable(table, segments, heading) {
    const head = node("tr", {}, node("th", { textContent: heading }), ...COLUMNS.map(([label]) => node("th", { textContent: label })));
    const rows = Object.entries(segments).map(([name, k]) =>
      node("tr", { "data-segment": name }, node("th", { textContent: name }), ...COLUMNS.map(([, f]) => node("td", { textContent: f(k) }))));
    if (!rows.length) rows.push(node("tr", {}, node("td", { textContent: "No conversations in this window", colSpan: COLUMNS.length + 1 })));
    table.replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
  }

  function bucketLabel(start, width) {
    const d = new Date(start * 1000);
    if (width >= 86400) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
    return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function renderKpis(report) {
    const k = report.overall;
    $("queue-length").textContent = report.queue_length;
    $("tiles").replaceChildren(...TILES.map(([key, label, f]) =>
      node("div", { className: "tile", "data-kpi": key }, node("span", { className: "value", textContent: f(k) }),
        node("span", { className: "label", textContent: label }))));
    const points = report.series.map((p) => ({ ...p, label: bucketLabel(p.start, report.bucket_seconds) }));
    const series = [{ key: "conversations", name: "conversations", cls: "s1" }, { key: "escalated", name: "escalated", cls: "s2" },
      { key: "contained", name: "contained", cls: "s3" }];
    window.CarelineChart.lines($("series-chart"), points, series);
    $("series-legend").replaceChildren(...series.map((s) => node("span", { className: `key ${s.cls}`, textContent: s.name })));
    const reasons = Object.entries(k.escalations_by_reason).map(([reason, r]) => ({ label: reason, value: r.rate || 0,
      text: `${pct(r.rate)} (${r.count})` }));
    window.CarelineChart.bars($("reasons-chart"), reasons);
    renderTable($("by-channel"), report.by_channel, "Channel");
    renderTable($("by-flow"), report.by_flow, "Flow");
  }

  async function loadKpis() {
    renderKpis(await api("GET", `/api/ops/kpis?window=${encodeURIComponent(state.window)}`));
  }

  /* ---------- reason dialog ---------- */
  function askReason(what) {
    const dialog = $("reason-dialog");
    $("reason-what").textContent = what;
    $("reason-input").value = "";
    return new Promise((resolve) => {
      const done = (value) => {
        $("reason-form").removeEventListener("submit", onSubmit);
        $("reason-cancel").removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onCancel);
        if (dialog.open) dialog.close();
        resolve(value);
      };
      const onSubmit = (event) => { event.preventDefault(); const v = $("reason-input").value.trim(); if (v) done(v); };
      const onCancel = (event) => { event.preventDefault(); done(null); };
      $("reason-form").addEventListener("submit", onSubmit);
      $("reason-cancel").addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onCancel);
      dialog.showModal();
      $("reason-input").focus();
    });
  }

  async function change(description, body) {
    const reason = await askReason(description);
    if (reason === null) { say("Change cancelled."); return; }
    try {
      const version = await api("PUT", "/api/ops/scope", { ...body, reason });
      say(`Scope version ${version.version} applied: ${description}.`, "ok");
    } catch (error) {
      say(`Could not change the scope: ${error.message}`, "error");
    }
    await loadScope();
  }

  /* ---------- scope ---------- */
  function switchList(kind, names, values) {
    const all = [...new Set([...names, ...Object.keys(values || {})])].sort();
    $(`switch-${kind}`).replaceChildren(...all.map((name) => {
      const on = (values || {})[name] !== false;
      const input = node("input", { type: "checkbox", checked: on, "data-kind": kind, "data-name": name });
      input.addEventListener("change", () => {
        const wanted = input.checked;
        input.checked = !wanted;
        change(`Switch ${kind.slice(0, -1)} ${name} ${wanted ? "on" : "off"}`, { [kind]: { [name]: wanted } });
      });
      return node("label", { className: `switch ${on ? "" : "off"}` }, input, ` ${name}`);
    }));
  }

  function renderScope(version) {
    state.scope = version;
    const scope = version.scope;
    $("scope-version").textContent = version.version;
    $("automation").checked = scope.automation;
    $("automation").closest("label").classList.toggle("off", !scope.automation);
    $("rollout").value = scope.rollout;
    $("rollout-value").textContent = `${scope.rollout}%`;
    switchList("flows", state.catalog.flows, scope.flows);
    switchList("channels", state.catalog.channels, scope.channels);
    switchList("intents", state.catalog.intents, scope.intents);
  }

  function summary(scope) {
    const off = [];
    for (const kind of ["flows", "channels", "intents"]) {
      for (const [name, on] of Object.entries(scope[kind] || {})) if (on === false) off.push(`${kind.slice(0, -1)} ${name}`);
    }
    return `automation ${scope.automation ? "on" : "OFF"}, rollout ${scope.rollout}%` + (off.length ? `; off: ${off.join(", ")}` : "");
  }

  function diff(before, after) {
    if (!before) return summary(after);
    const parts = [];
    if (before.automation !== after.automation) parts.push(`automation ${after.automation ? "on" : "off"}`);
    if (before.rollout !== after.rollout) parts.push(`rollout ${before.rollout}% → ${after.rollout}%`);
    for (const kind of ["flows", "channels", "intents"]) {
      const names = new Set([...Object.keys(before[kind] || {}), ...Object.keys(after[kind] || {})]);
      for (const name of [...names].sort()) {
        const was = (before[kind] || {})[name] !== false, now = (after[kind] || {})[name] !== false;
        if (was !== now) parts.push(`${kind.slice(0, -1)} ${name} ${now ? "on" : "off"}`);
      }
    }
    return parts.length ? parts.join(", ") : "no change";
  }

  function renderHistory(history) {
    const versions = history.versions;
    const head = node("tr", {}, ...["Version", "When", "Who", "Kind", "Scope", ""].map((h) => node("th", { textContent: h })));
    const rows = versions.map((v) => {
      const current = v.version === history.current;
      const button = node("button", { type: "button", className: "rollback", textContent: current ? "current" : "Roll back to this version",
        disabled: current, "data-version": v.version });
      button.addEventListener("click", () => rollback(v.version));
      return node("tr", { "data-version": v.version, className: current ? "current" : "" },
        node("td", { textContent: v.version }), node("td", { textContent: when(v.created_at) }),
        node("td", { textContent: v.author }), node("td", { textContent: v.kind }),
        node("td", { textContent: summary(v.scope) }), node("td", {}, button));
    });
    $("history-table").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
    const byVersion = new Map(versions.map((v) => [v.version, v]));
    $("audit-log").replaceChildren(...versions.map((v) => {
      const before = byVersion.get(v.version - 1);
      const what = v.kind === "rollback" ? `restored version ${v.restored_from}: ${diff(before && before.scope, v.scope)}`
        : diff(before && before.scope, v.scope);
      return node("li", { className: `entry ${v.kind}`, "data-version": v.version },
        node("time", { textContent: when(v.created_at) }), " ", node("strong", { textContent: v.author }),
        ` (${v.kind}, v${v.version}): `, node("span", { className: "what", textContent: what }),
        " — ", node("q", { textContent: v.reason }));
    }));
  }

  async function rollback(version) {
    const reason = await askReason(`Roll back to scope version ${version}`);
    if (reason === null) { say("Roll back cancelled."); return; }
    try {
      const written = await api("POST", "/api/ops/scope/rollback", { version, reason });
      say(`Rolled back: version ${written.version} restores version ${version}.`, "ok");
    } catch (error) {
      say(`Could not roll back: ${error.message}`, "error");
    }
    await loadScope();
  }

  async function loadScope() {
    const [current, history] = await Promise.all([api("GET", "/api/ops/scope"), api("GET", "/api/ops/scope/history?limit=200")]);
    renderScope(current);
    renderHistory(history);
  }

  /* ---------- breaker ---------- */
  function renderBreaker(breaker) {
    const b = breaker.bounds;
    const tiles = [["Enabled", b.enabled ? "yes" : "no"], ["Max escalation rate", pct(b.max_escalation_rate)],
      ["Max negative rate", pct(b.max_negative_rate)], ["Max error rate", pct(b.max_error_rate)],
      ["Window", `${b.window_turns} turns / ${secs(b.window_seconds)}`], ["Verdict after", `${b.min_turns} turns`]];
    $("breaker-bounds").replaceChildren(...tiles.map(([label, value]) =>
      node("div", { className: "tile small" }, node("span", { className: "value", textContent: value }), node("span", { className: "label", textContent: label }))));
    const head = node("tr", {}, ...["Flow", "Turns in window", "Escalation", "Negative", "Error"].map((h) => node("th", { textContent: h })));
    const cell = (rate, bound) => node("td", { className: rate > bound ? "over" : "", textContent: pct(rate) });
    const rows = Object.entries(breaker.flows).map(([flow, f]) => node("tr", {}, node("th", { textContent: flow }),
      node("td", { textContent: f.turns }), cell(f.escalation_rate, b.max_escalation_rate), cell(f.negative_rate, b.max_negative_rate),
      cell(f.error_rate, b.max_error_rate)));
    if (!rows.length) rows.push(node("tr", {}, node("td", { colSpan: 5, textContent: "No flow turns observed by this worker yet" })));
    $("breaker-flows").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
  }

  /* ---------- outbound campaigns ---------- */
  const OUTCOMES = ["reached", "voicemail", "confirmed", "rescheduled", "cancelled", "opted_out", "transferred",
    "sent", "no_answer", "failed"];
  const label = (name) => name.replace("_", " ");

  function campaignActions(campaign) {
    const allowed = { active: ["pause", "cancel"], paused: ["resume", "cancel"] }[campaign.status] || [];
    return node("td", {}, ...allowed.map((action) => node("button", {
      type: "button", textContent: action, "data-action": action, "data-campaign": campaign.id,
      onclick: () => changeCampaign(campaign.id, action),
    })));
  }

  function renderOutbound(summary) {
    $("outbound-optouts").textContent = summary.opted_out_numbers;
    $("outbound-totals").replaceChildren(...OUTCOMES.map((name) => node("div", { className: "tile small", "data-outcome": name },
      node("span", { className: "value", textContent: summary.outcomes[name] || 0 }), node("span", { className: "label", textContent: label(name) }))));
    const head = node("tr", {}, ...["Campaign", "Status", "Channel", "Open"].map((t) => node("th", { textContent: t })),
      ...OUTCOMES.map((name) => node("th", { textContent: label(name) })), node("th", { textContent: "" }));
    const rows = summary.campaigns.map((c) => node("tr", { "data-campaign": c.id },
      node("th", { textContent: c.name }), node("td", { textContent: c.status }), node("td", { textContent: c.channel }),
      node("td", { textContent: c.open }), ...OUTCOMES.map((name) => node("td", { textContent: c.outcomes[name] || 0 })),
      campaignActions(c)));
    if (!rows.length) rows.push(node("tr", {}, node("td", { textContent: "No campaigns yet", colSpan: OUTCOMES.length + 5 })));
    $("outbound-campaigns").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
  }

  async function loadOutbound() {
    try {
      renderOutbound(await api("GET", "/api/outbound/campaigns"));
    } catch (error) {
      if (error.status === 404) { $("outbound").hidden = true; return; }
      throw error;
    }
  }

  async function changeCampaign(id, action) {
    try {
      await api("POST", `/api/outbound/campaigns/${encodeURIComponent(id)}/${action}`);
      say({ pause: "Campaign paused.", resume: "Campaign resumed.", cancel: "Campaign cancelled." }[action], "ok");
    } catch (error) {
      say(`Could not ${action} the campaign: ${error.message}`, "error");
    }
    await loadOutbound();
  }

  /* ---------- session ---------- */
  async function refresh() {
    try {
      const catalog = await api("GET", "/api/ops/console");
      state.catalog = catalog;
      $("assistant").textContent = catalog.assistant;
      renderBreaker(catalog.breaker);
      await Promise.all([loadKpis(), loadScope(), loadOutbound(),
                         window.CarelineQA ? window.CarelineQA.refresh(state.token) : null]);
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        signOut(error.status === 403 ? "This token does not have the ops role." : "Unknown token.");
        return;
      }
      say(`Could not load: ${error.message}`, "error");
    }
  }

  async function signIn(token) {
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("login").hidden = true;
    $("logout").hidden = false;
    try {
      state.catalog = await api("GET", "/api/ops/console");
    } catch (error) {
      signOut(error.status === 403 ? "This token does not have the ops role." : `Sign-in failed: ${error.message}`);
      return;
    }
    if (!state.catalog.windows.includes(state.window)) state.window = state.catalog.windows[0];
    renderWindows();
    $("app").hidden = false;
    say("");
    await refresh();
    clearInterval(state.timer);
    state.timer = setInterval(() => { if (!$("reason-dialog").open) refresh(); }, REFRESH_MS);
  }

  function signOut(message) {
    clearInterval(state.timer);
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("login").hidden = false;
    $("logout").hidden = true;
    say(message || "Signed out.", message ? "error" : "");
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token").value.trim());
    $("token").value = "";
  });
  $("logout").addEventListener("click", () => signOut());
  $("automation").addEventListener("change", (event) => {
    const wanted = event.target.checked;
    event.target.checked = !wanted;
    change(`Switch automation ${wanted ? "on" : "OFF"} everywhere`, { automation: wanted });
  });
  $("rollout").addEventListener("input", () => { $("rollout-value").textContent = `${$("rollout").value}%`; });
  $("rollout-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = Number($("rollout").value);
    change(`Set the rollout to ${value}%`, { rollout: value });
  });

  if (state.token) signIn(state.token);
})();
