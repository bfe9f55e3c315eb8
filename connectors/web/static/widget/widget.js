/*
 * Careline web chat widget. Embed on any page:
 *
 *   <script src="https://bot.example.com/widget.js" defer></script>
 *
 * Optional attributes: data-careline-url (the Careline server; default: where this script came from),
 * data-transport="rest" (never try websockets). No framework, no requests to anyone but the server.
 * Everything shown is set with textContent: nothing the bot, an agent or the customer writes is parsed as HTML.
 */
(() => {
  "use strict";
  if (window.CarelineWidget) return;

  const script = document.currentScript;
  const base = ((script && script.dataset.carelineUrl) ||
    (script && script.src ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, "");
  const forceRest = Boolean(script && script.dataset.transport === "rest");
  const DEFAULTS = { title: "Chat with us", brand_color: "#1f5fbf", greeting: null, start_payload: null,
    heartbeat_seconds: 25, max_message_chars: 2000 };
  const T = {
    open: "Open chat", close: "Close chat", input: "Type your message", send: "Send", you: "You said",
    assistant: "Assistant", agent: "agent", log: "Conversation", typing: "The assistant is typing",
    connecting: "Connecting…", reconnecting: "Connection lost. Reconnecting…",
    handoff: "Connecting you to an agent…", joined: (name) => `${name} joined the chat`,
    back: "You're back with the assistant", closed: "The conversation was closed",
    csat: "Rate the help you got", csatScore: (n) => `${n} out of 5`, replies: "Quick replies",
    sources: "Sources:", notSent: "Not sent: ", newMessages: (n) => `${n} new message${n === 1 ? "" : "s"}`,
  };

  // ---- storage: the conversation id, unsent messages and whether the panel is open survive reloads
  const store = (() => {
    const prefix = `careline:${base}:`;
    const memory = new Map();
    let ls = null;
    try { localStorage.setItem(prefix + "probe", "1"); localStorage.removeItem(prefix + "probe"); ls = localStorage; } catch (e) { ls = null; }
    return {
      get(key, fallback) {
        try {
          const raw = memory.has(key) ? memory.get(key) : ls && ls.getItem(prefix + key);
          return raw == null ? fallback : JSON.parse(raw);
        } catch (e) { return fallback; }
      },
      set(key, value) {
        const raw = JSON.stringify(value);
        try { if (ls) { ls.setItem(prefix + key, raw); memory.delete(key); return; } } catch (e) { /* full or blocked */ }
        memory.set(key, raw);
      },
    };
  })();

  function randomId(bytes) {
    const data = new Uint8Array(bytes);
    crypto.getRandomValues(data);
    return btoa(String.fromCharCode(...data)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw) return null;
    try {
      const url = new URL(raw, base + "/");
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) { return null; }
  }

  // ---- state
  let config = DEFAULTS;
  let conversationId = store.get("conversation", null);
  let outbox = store.get("outbox", []).filter((m) => m && typeof m.id === "string" && typeof m.text === "string");
  let items = [];
  let status = "bot";
  let transport = null;
  let unread = 0;
  let synced = false;
  let typingTimer = null;
  const pendingEls = new Map();
  const saveOutbox = () => store.set("outbox", outbox.map(({ id, text, label, start }) => ({ id, text, label, start })));

  // ---- the widget's DOM, in a shadow root so the host page's CSS and ours never meet
  const host = el("div", { id: "careline-widget" });
  host.style.display = "none";
  const root = host.attachShadow({ mode: "open" });
  const css = el("link", { rel: "stylesheet", href: base + "/widget.css" });
  const badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  const launcherLabel = el("span", { text: DEFAULTS.title });
  const launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
    "aria-controls": "careline-panel", "aria-haspopup": "dialog" }, el("span", { "aria-hidden": "true", text: "💬" }),
  launcherLabel, badge);
  const heading = el("h2", { id: "careline-title", text: DEFAULTS.title });
  const closeButton = el("button", { class: "close", type: "button", "aria-label": T.close, text: "×" });
  const connection = el("p", { class: "connection", role: "status", "aria-live": "polite" });
  const list = el("div", { class: "list" });
  const typing = el("div", { class: "typing", hidden: true, role: "status", "aria-label": T.typing },
    el("span"), el("span"), el("span"));
  const extras = el("div", { class: "extras" });
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": T.log, tabindex: "0" },
    list, typing, extras);
  const input = el("textarea", { rows: "1", "aria-label": T.input, placeholder: T.input, maxlength: DEFAULTS.max_message_chars });
  const sendButton = el("button", { class: "send", type: "submit", text: T.send });
  const composer = el("form", { class: "composer" }, input, sendButton);
  const panel = el("section", { class: "panel", id: "careline-panel", role: "dialog", "aria-labelledby": "careline-title",
    hidden: true, "data-connection": "idle", "data-transport": forceRest ? "rest" : "websocket" },
  el("div", { class: "header" }, heading, closeButton), connection, log, composer);
  css.addEventListener("load", () => { host.style.display = ""; });
  css.addEventListener("error", () => { host.style.display = ""; });
  root.append(css, launcher, panel);

  // ---- rendering
  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function messageEl(kind, who, text, citations) {
    const node = el("div", { class: `msg ${kind}` },
      el("span", { class: kind === "user" ? "who sr-only" : "who", text: who }),
      el("div", { class: "text", text }));
    if (citations && citations.length) {
      const links = el("ul");
      for (const citation of citations) {
        const label = citation.heading && citation.heading !== citation.title
          ? `${citation.title} – ${citation.heading}` : String(citation.title);
        const href = safeUrl(citation.url);
        links.append(el("li", null, href
          ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: label })
          : el("span", { text: label })));
      }
      node.append(el("div", { class: "sources" }, el("span", { text: T.sources }), links));
    }
    return node;
  }

  const statusEl = (text) => el("div", { class: "status", text });

  function itemEl(item) {
    switch (item.kind) {
      case "user": return messageEl("user", T.you, item.text);
      case "bot": return item.notice ? statusEl(item.text) : messageEl("bot", T.assistant, item.text, item.citations);
      case "agent": return messageEl("agent", `${item.name} (${T.agent})`, item.text);
      case "handoff": return statusEl(T.handoff);
      case "agent_joined": return statusEl(T.joined(item.name));
      case "returned_to_bot": return statusEl(T.back);
      case "closed": return statusEl(T.closed);
      default: return null;
    }
  }

  function pendingEl(message) {
    const node = messageEl("user", T.you, message.label || message.text);
    node.classList.add("pending");
    pendingEls.set(message.id, node);
    return node;
  }

  function renderExtras() {
    extras.replaceChildren();
    const last = items[items.length - 1];
    if (outbox.some((m) => !m.start) || !last || last.kind !== "bot" || !last.buttons || !last.buttons.length) return;
    // The CSAT question's buttons are the 1-5 scores; any other bot message's are quick replies.
    const group = el("div", { class: last.csat ? "replies csat" : "replies", role: "group",
      "aria-label": last.csat ? T.csat : T.replies });
    for (const button of last.buttons) {
      const score = last.csat && /^[1-5]$/.test(button.title) ? Number(button.title) : null;
      group.append(el("button", { type: "button", text: score ? `${score} ★` : button.title,
        "aria-label": score ? T.csatScore(score) : null,
        onclick: () => { send(button.payload, score ? `${score} ★` : button.title); input.focus(); } }));
    }
    extras.append(group);
  }

  // A notice the bot sends right after a change of owner ("Amy has joined") words that change's status line.
  let lastStatus = null;

  // Items arrive in the server's order; messages still being sent stay below them until stored.
  function place(item, node) {
    const previous = lastStatus;
    const anchor = list.querySelector(".msg.pending");
    const lastPlaced = anchor ? anchor.previousElementSibling : list.lastElementChild;
    lastStatus = null;
    if (item.kind === "bot" && item.notice) {
      if (previous && previous.kind === item.notice && !previous.worded && previous.node === lastPlaced) {
        previous.node.textContent = item.text;
        lastStatus = { ...previous, worded: true };
        return;
      }
      lastStatus = { kind: item.notice, node, worded: true };
    } else if (["handoff", "agent_joined", "returned_to_bot"].includes(item.kind)) {
      lastStatus = { kind: item.kind, node, worded: false };
    }
    list.insertBefore(node, anchor);
  }

  function renderAll() {
    list.replaceChildren();
    pendingEls.clear();
    if (config.greeting) list.append(messageEl("bot", T.assistant, config.greeting));
    lastStatus = null;
    for (const item of items) { const node = itemEl(item); if (node) place(item, node); }
    for (const message of outbox) if (!message.start) list.append(pendingEl(message));
    renderExtras();
    scrollDown();
  }

  function addItem(item) {
    items.push(item);
    if (item.kind === "handoff") status = "handoff";
    else if (item.kind === "agent_joined") status = "agent";
    else if (item.kind === "returned_to_bot" || item.kind === "user" && status === "closed") status = "bot";
    else if (item.kind === "closed") status = "closed";
    const node = itemEl(item);
    const pending = item.kind === "user" && item.client_id && pendingEls.get(item.client_id);
    if (pending) { pendingEls.delete(item.client_id); pending.remove(); }
    if (node) place(item, node);
    if (item.kind === "bot" || item.kind === "agent" || status !== "bot") hideTyping();
    if (panel.hidden && (item.kind === "bot" || item.kind === "agent")) { unread += 1; updateLauncher(); }
    renderExtras();
    scrollDown();
  }

  function showTyping() {
    if (status !== "bot") return;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 10000);
    scrollDown();
  }

  function hideTyping() { typing.hidden = true; clearTimeout(typingTimer); }

  function updateLauncher() {
    badge.textContent = String(unread);
    badge.hidden = unread === 0;
    launcher.setAttribute("aria-label", `${T.open}: ${config.title}${unread ? ` (${T.newMessages(unread)})` : ""}`);
  }

  function setConnection(state) {
    panel.dataset.connection = state;
    connection.textContent = state === "connecting" ? T.connecting : state === "reconnecting" ? T.reconnecting : "";
  }

  // ---- sending
  function send(text, label, start) {
    if (typeof text !== "string" || !text.trim()) return;
    if (text.length > config.max_message_chars) text = text.slice(0, config.max_message_chars);
    const message = { id: randomId(9), text, label: label || null, start: Boolean(start) };
    outbox.push(message);
    saveOutbox();
    if (!start) list.append(pendingEl(message));
    renderExtras();
    showTyping();
    ensureConnected();
    transport.flush();
  }

  function maybeStart() {
    if (!synced || !config.start_payload || items.length || outbox.length || panel.hidden) return;
    const key = `started:${conversationId}`;
    if (store.get(key, false)) return;
    store.set(key, true);
    send(config.start_payload, null, true);
  }

  function settle(id) {
    outbox = outbox.filter((m) => m.id !== id);
    saveOutbox();
    if (transport) transport.settled(id);
  }

  const handlers = {
    state: setConnection,
    snapshot(snapshotItems, snapshotStatus) {
      items = snapshotItems.slice();
      synced = true;
      status = snapshotStatus || "bot";
      const stored = new Set(items.filter((i) => i.client_id).map((i) => i.client_id));
      outbox = outbox.filter((m) => !stored.has(m.id));
      saveOutbox();
      renderAll();
      if (!outbox.length) hideTyping();
      maybeStart();
    },
    frame(frame) {
      if (frame.type === "item" && frame.item) addItem(frame.item);
      else if (frame.type === "ack") {
        settle(frame.id);  // its bubble stays "pending" until the stored message comes back as an item
        if (!frame.replies) hideTyping();
        renderExtras();
      } else if (frame.type === "error") refused(frame);
    },
    fallback() {
      transport.stop();
      panel.dataset.transport = "rest";
      transport = new RestTransport(handlers);
      transport.start();
    },
  };

  function refused(frame) {
    hideTyping();
    const message = outbox.find((m) => m.id === frame.id);
    if (!message) { if (frame.reason) connection.textContent = frame.reason; return; }
    if (transport) transport.settled(message.id);
    if (frame.code === "rate_limited" || frame.code === "unavailable") {
      const wait = Math.max(4, Math.min(300, Number(frame.retry_after) || 0)) * 1000;
      message.retryAt = Date.now() + wait;
      connection.textContent = frame.reason;
      setTimeout(() => { connection.textContent = ""; if (transport) transport.flush(); }, wait + 100);
    } else if (frame.code === "closed") {
      newConversation();
    } else {
      settle(message.id);
      const node = pendingEls.get(message.id);
      if (node) {
        node.classList.replace("pending", "failed");
        node.append(el("span", { class: "note", text: T.notSent + frame.reason }));
        pendingEls.delete(message.id);
      }
      renderExtras();
    }
  }

  function newConversation() {
    if (transport) transport.stop();
    transport = null;
    conversationId = null;
    synced = false;
    items = [];
    ensureConnected();
  }

  // ---- transports: a websocket, or polling over plain HTTP when websockets are blocked
  const messageFrame = (m) => JSON.stringify({ type: "message", id: m.id, text: m.text,
    label: m.label || undefined, start: m.start || undefined });
  const ready = (m) => !m.retryAt || m.retryAt <= Date.now();

  class SocketTransport {
    constructor(on) {
      Object.assign(this, { on, ws: null, live: false, everLive: false, attempt: 0, failures: 0, timer: null,
        beat: null, stopped: false, sent: new Set() });
    }

    start() { this.connect(); }

    connect() {
      clearTimeout(this.timer);
      this.on.state(this.attempt ? "reconnecting" : "connecting");
      let ws;
      try {
        ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/chat?conversation_id=${encodeURIComponent(conversationId)}`);
      } catch (e) { this.closed(false); return; }
      this.ws = ws;
      let gotHistory = false;
      let lastSeen = Date.now();
      const beatMs = config.heartbeat_seconds * 1000;
      ws.onmessage = (event) => {
        lastSeen = Date.now();
        let frame;
        try { frame = JSON.parse(event.data); } catch (e) { return; }
        if (frame.type === "history") {
          gotHistory = true;
          Object.assign(this, { live: true, everLive: true, attempt: 0, failures: 0 });
          this.sent.clear();
          this.on.state("online");
          this.on.snapshot(frame.items || [], frame.status);
          this.flush();
        } else this.on.frame(frame);
      };
      ws.onclose = () => {
        clearInterval(this.beat);
        if (this.ws !== ws) return;
        this.ws = null;
        this.live = false;
        this.closed(gotHistory);
      };
      this.beat = setInterval(() => {
        if (Date.now() - lastSeen > beatMs * 2.5) ws.close();
        else if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}');
      }, beatMs);
    }

    closed(wasLive) {
      if (this.stopped) return;
      if (!wasLive) this.failures += 1;
      if (!this.everLive && this.failures >= 2) { this.on.fallback(); return; }
      const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      this.on.state("reconnecting");
      this.timer = setTimeout(() => this.connect(), delay);
    }

    wake() { if (!this.ws && !this.stopped) this.connect(); }

    flush() {
      if (!this.live) return;
      for (const m of outbox) {
        if (this.sent.has(m.id) || !ready(m)) continue;
        this.sent.add(m.id);
        this.ws.send(messageFrame(m));
      }
    }

    settled(id) { this.sent.delete(id); }

    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      clearInterval(this.beat);
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close();
    }
  }

  class RestTransport {
    constructor(on) {
      Object.assign(this, { on, live: false, next: 0, timer: null, stopped: false, errors: 0, busy: false,
        again: false, sent: new Set() });
    }

    url(path) { return `${base}/widget/conversations/${encodeURIComponent(conversationId)}${path}`; }

    start() { this.on.state("connecting"); this.poll(); }

    async poll() {
      clearTimeout(this.timer);
      if (this.busy) { this.again = true; return; }
      this.busy = true;
      try {
        const response = await fetch(this.url(`/items?since=${this.live ? this.next : 0}`), { credentials: "omit" });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const body = await response.json();
        if (this.stopped) return;
        if (!this.live) {
          this.live = true;
          this.on.state("online");
          this.on.snapshot(body.items || [], body.status);
        } else for (const item of body.items || []) this.on.frame({ type: "item", item });
        this.next = body.next;
        this.errors = 0;
        this.on.state("online");
      } catch (e) {
        this.errors += 1;
        this.on.state("reconnecting");
      } finally { this.busy = false; }
      if (this.stopped) return;
      if (this.live) this.flush();
      const idle = document.hidden ? 10000 : 2000;
      const delay = this.again ? 0 : this.errors ? Math.min(30000, 1000 * 2 ** this.errors) : idle;
      this.again = false;
      this.timer = setTimeout(() => this.poll(), delay);
    }

    async flush() {
      if (!this.live) return;
      let posted = false;
      for (const m of outbox.slice()) {
        if (this.sent.has(m.id) || !ready(m)) continue;
        this.sent.add(m.id);
        try {
          const response = await fetch(this.url("/messages"), { method: "POST", credentials: "omit",
            headers: { "Content-Type": "application/json" }, body: messageFrame(m) });
          this.on.frame(await response.json());
          posted = true;
        } catch (e) {
          this.sent.delete(m.id);
          this.on.state("reconnecting");
          break;
        }
      }
      if (posted) this.poll();
    }

    settled(id) { this.sent.delete(id); }

    wake() { this.poll(); }

    stop() { this.stopped = true; clearTimeout(this.timer); }
  }

  function ensureConnected() {
    if (!conversationId) {
      conversationId = `w_${randomId(18)}`;
      store.set("conversation", conversationId);
    }
    if (transport) return;
    const rest = forceRest || typeof WebSocket !== "function";
    panel.dataset.transport = rest ? "rest" : "websocket";
    transport = rest ? new RestTransport(handlers) : new SocketTransport(handlers);
    transport.start();
  }

  // ---- opening, closing, keyboard
  function openPanel() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    store.set("open", true);
    unread = 0;
    updateLauncher();
    ensureConnected();
    maybeStart();
    scrollDown();
    input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    store.set("open", false);
    launcher.focus();
  }

  launcher.addEventListener("click", openPanel);
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") closePanel(); });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.style.height = "";
    send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  });
  window.addEventListener("online", () => { if (transport) transport.wake(); });

  function applyConfig(loaded) {
    config = { ...DEFAULTS, ...loaded };
    if (/^#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?$/.test(config.brand_color)) host.style.setProperty("--cl-brand", config.brand_color);
    heading.textContent = config.title;
    launcherLabel.textContent = config.title;
    input.setAttribute("maxlength", String(config.max_message_chars));
    updateLauncher();
  }

  async function boot() {
    try {
      const response = await fetch(`${base}/widget/config`, { credentials: "omit" });
      applyConfig(response.ok ? await response.json() : {});
    } catch (e) { applyConfig({}); }
    document.body.append(host);
    renderAll();
    if (store.get("open", false)) openPanel();
    else if (conversationId) ensureConnected();
  }

  // The embedding site's signed-in user: a signed token (docs/customers.md) verifies this chat for them.
  async function identify(token) {
    if (!conversationId) {
      conversationId = `w_${randomId(18)}`;
      store.set("conversation", conversationId);
    }
    const response = await fetch(`${base}/widget/conversations/${encodeURIComponent(conversationId)}/identity`, {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `identity refused (${response.status})`);
    return body;
  }

  window.CarelineWidget = { open: openPanel, close: closePanel, identify, version: "1" };
  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot);
})();
