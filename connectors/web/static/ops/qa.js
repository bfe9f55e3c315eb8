/* Careline ops console, QA view: score distribution, criteria with pass rates and agreement, the failures of a
   criterion, a conversation's transcript with the failing turns highlighted, "mark as wrong", segments, agents
   and what to automate next. API: /api/ops/qa* (ops token). console.js calls CarelineQA.refresh(token). */
(function (global) {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const WINDOWS = ["day", "7d", "30d"];
  const state = { token: null, window: "7d", report: null, criterion: null, conversation: null, focus: null };

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${state.token}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.error || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function node(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "className") el.className = value;
      else if (key.startsWith("data-") || key === "type" || key.startsWith("aria-")) el.setAttribute(key, value);
      else el[key] = value;
    }
    for (const child of children) if (child !== null && child !== undefined) el.append(child);
    return el;
  }

  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const secs = (v) => (v === null || v === undefined ? "–" : `${Math.round(v)}s`);
  function say(text, kind) {
    const status = $("status");
    status.textContent = text || "";
    status.className = `status ${kind || ""}`;
  }

  function renderWindows() {
    $("qa-windows").replaceChildren(...WINDOWS.map((w) => {
      const button = node("button", { type: "button", textContent: w, "data-window": w, "aria-selected": String(w === state.window) });
      button.addEventListener("click", () => { state.window = w; renderWindows(); load(); });
      return button;
    }));
  }

  function renderTiles(report) {
    const o = report.overall;
    const reviewed = report.calibration.reviewed;
    const tiles = [["conversations", "Scored conversations", String(o.conversations)], ["mean", "Mean score", pct(o.mean_score)],
      ["with_failures", "With a failure", String(o.with_failures)], ["reviewed", "Reviewed by people", String(reviewed)]];
    $("qa-tiles").replaceChildren(...tiles.map(([key, label, value]) => node("div", { className: "tile", "data-qa": key },
      node("span", { className: "value", textContent: value }), node("span", { className: "label", textContent: label }))));
    const total = Math.max(1, o.histogram.reduce((a, b) => a + b, 0));
    global.CarelineChart.bars($("qa-histogram"), o.histogram.map((count, i) => ({
      label: `${i * 10}–${i === 9 ? 100 : i * 10 + 9}%`, value: count / total, text: String(count) })).reverse());
  }

  function renderCriteria(report) {
    const calibration = report.calibration.criteria;
    const head = node("tr", {}, ...["Criterion", "Side", "Applicable", "Failed", "Pass rate", "Agreement (reviews)", "What it checks"]
      .map((h) => node("th", { textContent: h })));
    const rows = report.criteria.map((c) => {
      const cal = calibration[c.criterion];
      const row = node("tr", { className: `selectable ${c.criterion === state.criterion ? "selected" : ""}`, "data-criterion": c.criterion },
        node("th", { textContent: c.criterion }), node("td", { textContent: c.side }), node("td", { textContent: c.applicable }),
        node("td", { className: c.failed ? "fail" : "", textContent: c.failed }), node("td", { textContent: pct(c.pass_rate) }),
        node("td", { className: "agreement", textContent: cal ? `${pct(cal.agreement)} (${cal.reviewed})` : "–" }),
        node("td", { textContent: c.description }));
      row.addEventListener("click", () => { state.criterion = c.criterion; renderCriteria(state.report); renderFailures(); });
      return row;
    });
    $("qa-criteria").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
  }

  function renderFailures() {
    const entry = state.report && state.report.criteria.find((c) => c.criterion === state.criterion);
    $("qa-failures-box").hidden = !entry;
    if (!entry) return;
    $("qa-failures-of").textContent = entry.criterion;
    const items = entry.failures.map((f) => {
      const button = node("button", { type: "button", "data-conversation": f.conversation_id,
        textContent: `${f.conversation_id} (turn ${f.evidence.join(", ") || "–"})`, title: f.note });
      button.addEventListener("click", () => openConversation(f.conversation_id, entry.criterion));
      return node("li", {}, button);
    });
    if (!items.length) items.push(node("li", { className: "muted", textContent: "No failures in this window." }));
    $("qa-failures").replaceChildren(...items);
  }

  function renderConversation(detail) {
    $("qa-conversation").hidden = false;
    $("qa-conversation-id").textContent = detail.conversation_id;
    const score = detail.score;
    $("qa-conversation-score").textContent = score ? pct(score.score) : "not scored yet";
    const failing = new Set();
    const focus = new Set();
    for (const c of (score ? score.criteria : [])) {
      if (c.passed === false) for (const seq of c.evidence) {
        failing.add(seq);
        if (c.criterion === state.focus) focus.add(seq);
      }
    }
    $("qa-lines").replaceChildren(...detail.transcript.map((line) => node("li", {
      className: `${line.from} ${failing.has(line.seq) ? "failing" : ""} ${focus.has(line.seq) ? "focus" : ""}`,
      "data-seq": line.seq }, node("span", { className: "who", textContent: `#${line.seq} ${line.agent || line.from}` }), line.text)));
    const first = $("qa-lines").querySelector("li.focus") || $("qa-lines").querySelector("li.failing");
    if (first) first.scrollIntoView({ block: "nearest" });
    const head = node("tr", {}, ...["Criterion", "Automatic", "Turns", "Review", ""].map((h) => node("th", { textContent: h })));
    const rows = (score ? score.criteria : []).map((c) => {
      const review = detail.reviews[c.criterion];
      const verdict = c.passed === null ? "n/a" : c.passed ? "pass" : "fail";
      const button = node("button", { type: "button", className: "mark", "data-criterion": c.criterion, textContent: "Mark as wrong",
        disabled: c.passed === null });
      button.addEventListener("click", () => mark(detail.conversation_id, c.criterion));
      const reviewed = review ? `${review.human === c.passed ? "confirmed" : "marked wrong"} by ${review.reviewer}` : "";
      return node("tr", { "data-criterion": c.criterion }, node("th", { textContent: c.criterion }),
        node("td", { className: c.passed === false ? "fail" : "", textContent: verdict, title: c.note }),
        node("td", { textContent: c.evidence.join(", ") }), node("td", { className: "review", textContent: reviewed }),
        node("td", {}, button));
    });
    $("qa-marks").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
  }

  async function openConversation(conversationId, criterion) {
    state.conversation = conversationId;
    state.focus = criterion || null;
    try {
      renderConversation(await api("GET", `/api/ops/qa/conversations/${encodeURIComponent(conversationId)}`));
    } catch (error) {
      say(`Could not load the conversation: ${error.message}`, "error");
    }
  }

  async function mark(conversationId, criterion) {
    try {
      await api("POST", "/api/ops/qa/reviews", { conversation_id: conversationId, criterion, wrong: true });
      say(`Marked ${criterion} on ${conversationId} as wrong.`, "ok");
    } catch (error) {
      say(`Could not record the review: ${error.message}`, "error");
    }
    await load();
    await openConversation(conversationId, criterion);
  }

  function renderSegments(report) {
    const head = node("tr", {}, ...["Segment", "Conversations", "Mean score", "With a failure"].map((h) => node("th", { textContent: h })));
    const rows = [];
    for (const [kind, groups] of Object.entries(report.segments)) {
      for (const [name, seg] of Object.entries(groups)) {
        rows.push(node("tr", { "data-segment": `${kind}:${name}` }, node("th", { textContent: `${kind}: ${name}` }),
          node("td", { textContent: seg.conversations }), node("td", { textContent: pct(seg.mean_score) }),
          node("td", { textContent: seg.with_failures })));
      }
    }
    $("qa-segments").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
    const agentHead = node("tr", {}, ...["Agent", "Sessions", "First response (avg)", "Handling (avg)"].map((h) => node("th", { textContent: h })));
    const agents = Object.entries(report.agents).map(([name, a]) => node("tr", { "data-agent": name }, node("th", { textContent: name }),
      node("td", { textContent: a.sessions }), node("td", { textContent: secs(a.first_response_seconds_avg) }),
      node("td", { textContent: secs(a.handling_seconds_avg) })));
    $("qa-agents").replaceChildren(node("thead", {}, agentHead), node("tbody", {}, ...agents));
  }

  function renderTopics(report) {
    const topics = (report.topics && report.topics.topics) || [];
    const head = node("tr", {}, ...["Topic", "Messages", "Resolved by agents", "Examples", "Suggestion"].map((h) => node("th", { textContent: h })));
    const rows = topics.map((t) => node("tr", { "data-topic": t.label }, node("th", { textContent: t.label }),
      node("td", { textContent: t.count }), node("td", { textContent: pct(t.resolved_by_agents) }),
      node("td", { textContent: t.examples.join(" · ") }), node("td", { textContent: t.suggestion })));
    if (!rows.length) rows.push(node("tr", {}, node("td", { colSpan: 5, textContent: "No recurring handed-off or unanswered topics in this window." })));
    $("qa-topics").replaceChildren(node("thead", {}, head), node("tbody", {}, ...rows));
  }

  async function load() {
    let report;
    /* topics are clustered when the view opens, the window changes or after scoring, not on every refresh */
    const topics = !state.report || state.report.window !== state.window || state.topicsDue;
    try {
      report = await api("GET", `/api/ops/qa?window=${encodeURIComponent(state.window)}${topics ? "&topics=1" : ""}`);
    } catch (error) {
      if (error.status === 404) { $("qa-missing").hidden = false; return; }
      throw error;
    }
    if (!topics && state.report) report.topics = state.report.topics;
    state.topicsDue = false;
    state.report = report;
    $("qa-version").textContent = report.scorecard.version;
    renderTiles(report);
    renderCriteria(report);
    renderFailures();
    renderSegments(report);
    renderTopics(report);
  }

  async function refresh(token) {
    state.token = token;
    if (!$("qa-windows").children.length) renderWindows();
    await load();
  }

  $("qa-score").addEventListener("click", async () => {
    try {
      const run = await api("POST", "/api/ops/qa/score");
      state.topicsDue = true;
      say(`Scored ${run.scored} conversation(s) under scorecard ${run.scorecard_version}.`, "ok");
    } catch (error) {
      say(`Could not score: ${error.message}`, "error");
    }
    await load();
  });

  global.CarelineQA = { refresh, open: openConversation };
})(window);
