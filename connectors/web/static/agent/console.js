// Careline agent console: plain JS, no dependencies. Talks to /api/handoff/* with a bearer token.
"use strict";

const state = { token: sessionStorage.getItem("careline-token"), selected: null, view: null, socket: null,
                teams: [], agent: null };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function ago(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function time(at) {
  return new Date(at * 1000).toLocaleTimeString();
}

async function api(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(`/api/handoff${path}`, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// login ----------------------------------------------------------------------------------------------

async function login(token) {
  state.token = token;
  try {
    await loadQueue();
  } catch (error) {
    state.token = null;
    sessionStorage.removeItem("careline-token");
    $("login-error").textContent = error.status === 401 || error.status === 403
      ? "That token is not valid for the agent role." : `Could not log in: ${error.message}`;
    return;
  }
  sessionStorage.setItem("careline-token", token);
  $("login").hidden = true;
  $("workspace").hidden = false;
  $("logout").hidden = false;
  connect();
}

function logout() {
  sessionStorage.removeItem("careline-token");
  if (state.socket) state.socket.close();
  location.reload();
}

// queue ----------------------------------------------------------------------------------------------

async function loadQueue() {
  const team = $("team-filter").value;
  const data = await api("GET", `/queue${team ? `?team=${encodeURIComponent(team)}` : ""}`);
  if (state.teams.length === 0) {
    state.teams = data.teams;
    for (const name of data.teams) $("team-filter").append(el("option", { value: name, textContent: name }));
  }
  const list = $("queue");
  list.replaceChildren();
  const waiting = data.queue.filter((e) => e.status === "handoff").length;
  $("queue-count").textContent = `(${waiting} waiting, ${data.queue.length - waiting} in progress)`;
  for (const entry of data.queue) {
    const owner = entry.agent ? ` · with ${entry.agent}` : " · waiting";
    const button = el("button", { type: "button", className: "queue-item" },
      el("span", { className: "reason", textContent: entry.reason }), " ",
      el("span", { className: "cid", textContent: entry.conversation_id }),
      el("br"),
      el("span", { className: "meta", textContent: `${entry.team} · ${ago(entry.waiting_seconds)}${owner}` }));
    button.dataset.conversationId = entry.conversation_id;
    button.setAttribute("aria-current", String(entry.conversation_id === state.selected));
    button.addEventListener("click", () => select(entry.conversation_id));
    list.append(el("li", {}, button));
  }
  if (data.queue.length === 0) list.append(el("li", { className: "muted", textContent: "Nobody is waiting." }));
  if (state.selected && !data.queue.some((e) => e.conversation_id === state.selected)) {
    leave("This conversation is no longer in the queue or assigned to you.");
  }
}

// An agent sees only waiting conversations and its own: when the selected one stops being either
// (claimed by someone else, returned to the bot, closed), its actions are switched off.
function leave(reason) {
  state.selected = null;
  state.view = null;
  $("conv-status").textContent = reason;
  for (const id of ["claim", "return", "close", "reply"]) $(id).disabled = true;
  for (const id of ["reply-form", "note-form", "transfer-form"]) $(id).querySelector("button").disabled = true;
}

// conversation ---------------------------------------------------------------------------------------

async function select(conversationId) {
  state.selected = conversationId;
  $("action-error").textContent = "";
  await refresh();
  for (const b of document.querySelectorAll(".queue-item")) {
    b.setAttribute("aria-current", String(b.dataset.conversationId === conversationId));
  }
  $("conversation").focus();
}

async function refresh() {
  if (!state.selected) return;
  const view = await api("GET", `/${encodeURIComponent(state.selected)}`);
  state.view = view;
  render(view);
}

function line(kind, who, text, at) {
  return el("li", { className: kind },
    el("span", { className: "meta", textContent: `${who} · ${time(at)} ` }), el("span", { textContent: text }));
}

function render(view) {
  const ctx = view.context;
  $("conv-title").textContent = `Conversation ${view.conversation_id}`;
  $("conv-body").hidden = false;
  const owner = view.agent ? ` by ${view.agent}` : "";
  $("conv-status").textContent = `Status: ${view.status}${owner} · reason ${ctx.reason} · team ${ctx.team}`;
  const mine = view.status === "agent" && view.agent === state.agent;
  $("claim").disabled = view.status !== "handoff";
  $("return").disabled = !(view.status === "handoff" || mine);
  $("close").disabled = !(view.status === "handoff" || mine);
  $("reply").disabled = !mine;
  $("reply-form").querySelector("button").disabled = !mine;
  for (const id of ["note-form", "transfer-form"]) $(id).querySelector("button").disabled = false;

  const transcript = $("transcript");
  transcript.replaceChildren();
  for (const t of ctx.transcript) {
    const who = t.from === "agent" ? `agent ${t.agent}` : t.from + (t.voice ? " (voice)" : "")
      + (t.for_agent ? " (for agent)" : "");
    transcript.append(line(t.from, who, t.text, t.at));
  }
  transcript.scrollTop = transcript.scrollHeight;

  const dl = $("context");
  dl.replaceChildren();
  const customer = `${ctx.customer.id || "unknown"} (${ctx.customer.verified ? "verified" : "not verified"})`;
  const rows = [
    ["Summary", ctx.summary], ["Reason", ctx.reason], ["Team", ctx.team], ["Customer", customer],
    ["Sentiment", `${ctx.sentiment.trend}${ctx.sentiment.latest === null ? "" : ` (${ctx.sentiment.latest})`}`],
    ["Signals", ctx.signals.map((s) => `${s.category} ${s.score}${s.evidence ? ` “${s.evidence}”` : ""}`).join("; ") || "none"],
    ["Intents", ctx.intents.map((i) => `${i.intent} ${i.confidence}`).join(", ") || "none"],
    ["Flows", ctx.flows.active.join(" › ") || "none active"],
    ["Slots", Object.entries(ctx.slots).map(([k, v]) => `${k}=${v}`).join(", ") || "none"],
    ["Bot answers", `${ctx.attempted_answers.length} (${ctx.attempted_answers.filter((a) => a.failed).length} failed)`],
  ];
  for (const [key, value] of rows) dl.append(el("dt", { textContent: key }), el("dd", { textContent: value }));

  $("notes").replaceChildren(...view.notes.map((n) => el("li", { textContent: `${n.agent}: ${n.text}` })));
  $("documents").replaceChildren(...(ctx.documents.length
    ? ctx.documents.map((d) => el("li", { textContent: `${d.title || d.doc_id}${d.heading ? ` — ${d.heading}` : ""}` }))
    : [el("li", { className: "muted", textContent: "none" })]));

  const history = ctx.history || [];
  $("timeline").replaceChildren(...(history.length
    ? history.map((h) => el("li", {
      className: h.open_handoff ? "open-handoff" : "",
      textContent: `${new Date((h.started_at || 0) * 1000).toLocaleDateString()} · ${h.channel || "?"} · `
        + `${h.reason || "no reason"} · ${h.outcome.replace(/_/g, " ")}`
        + (h.csat === null ? "" : ` · CSAT ${h.csat}`) + (h.open_handoff ? " · open handoff" : "")
        + ((h.qa_flags || []).length ? ` · QA failed: ${h.qa_flags.join(", ")}` : "")
        + (h.current ? " (this conversation)" : ""),
    }))
    : [el("li", { className: "muted", textContent: ctx.customer.verified ? "no other conversations"
      : "not verified: no history shown" })]));

  const select = $("transfer-team");
  select.replaceChildren(...view.teams.filter((t) => t !== ctx.team).map((t) => el("option", { value: t, textContent: t })));
}

async function act(path, body) {
  $("action-error").textContent = "";
  try {
    const outcome = await api("POST", `/${encodeURIComponent(state.selected)}${path}`, body);
    if (outcome.status === "handoff" || outcome.status === "agent") {
      await refresh();
    } else {
      leave(`Status: ${outcome.status} · no longer with the agents`);
    }
    await loadQueue();
    return true;
  } catch (error) {
    $("action-error").textContent = error.message;
    return false;
  }
}

// live updates ---------------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/handoff/ws`);
  state.socket = socket;
  socket.addEventListener("open", () => socket.send(JSON.stringify({ token: state.token })));
  socket.addEventListener("message", async (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "ready") {
      state.agent = data.agent;
      $("who").textContent = `Signed in as ${data.agent} (${data.role}) · live`;
      document.body.dataset.live = "true";
      if (state.view) render(state.view);
    } else if (data.type === "queue_changed") {
      await loadQueue();
    } else if (data.type === "resync") {
      // the server's event feed reconnected and may have missed events: reload what is shown
      await loadQueue();
      if (state.selected) {
        const selected = state.selected;
        await refresh().catch(() => {
          if (state.selected === selected) leave("This conversation is no longer in the queue or assigned to you.");
        });
      }
    } else if (data.type === "event" && data.conversation_id === state.selected) {
      const selected = state.selected;
      await refresh().catch(() => {
        if (state.selected === selected) leave("This conversation is no longer in the queue or assigned to you.");
      });
    }
  });
  socket.addEventListener("close", () => {
    document.body.dataset.live = "false";
    if (state.token) setTimeout(connect, 2000);
  });
}

// wiring ---------------------------------------------------------------------------------------------

$("login-form").addEventListener("submit", (e) => { e.preventDefault(); login($("token").value.trim()); });
$("logout").addEventListener("click", logout);
$("team-filter").addEventListener("change", loadQueue);
$("claim").addEventListener("click", () => act("/claim"));
$("return").addEventListener("click", () => act("/return-to-bot"));
$("close").addEventListener("click", () => act("/close", { csat: $("csat").checked }));
$("reply-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await act("/messages", { text: $("reply").value })) $("reply").value = "";
});
$("note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await act("/notes", { text: $("note").value })) $("note").value = "";
});
$("transfer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await act("/transfer", { team: $("transfer-team").value, note: $("transfer-note").value || null })) {
    $("transfer-note").value = "";
  }
});
setInterval(() => { if (state.token && !$("workspace").hidden) loadQueue().catch(() => {}); }, 15000);
if (state.token) login(state.token);
