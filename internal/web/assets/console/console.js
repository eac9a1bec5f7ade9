// tamlink console: live conversation and live ticket updates for desk staff.
// Pages are server-rendered; this script only adds what must be live.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";
  const pageEl = document.querySelector("[data-page]");
  const page = pageEl ? pageEl.dataset.page : "";
  const fmt = new Intl.DateTimeFormat(navigator.language, { dateStyle: "short", timeStyle: "short" });

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: Object.assign({ "X-CSRF-Token": csrf }, body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
      credentials: "same-origin",
    });
    if (res.status === 401) { location.href = "/console/login?next=" + encodeURIComponent(location.pathname); throw new Error("signed out"); }
    if (!res.ok) { const e = await res.json().catch(() => ({})); throw new Error(e.message || res.statusText); }
    return res.status === 204 ? null : res.json();
  }

  // Server-rendered times in the reader's locale and zone, as live ones are.
  document.querySelectorAll("time[datetime]").forEach((t) => {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = fmt.format(d); }
  });

  document.querySelectorAll("form.confirm").forEach((f) =>
    f.addEventListener("submit", (e) => { if (!confirm("Remove this channel? Its organisation and history stay.")) e.preventDefault(); }));

  // ---- conversation (organisation page) ----
  const list = document.getElementById("messages");
  const orgId = pageEl && pageEl.dataset.orgId;
  const seen = new Set();
  let oldest = 0;

  function renderMessage(m, prepend) {
    if (seen.has(m.id)) return;
    seen.add(m.id);
    const li = document.createElement("li");
    li.className = "message from-" + m.author.kind;
    li.dataset.id = m.id;
    const who = document.createElement("b");
    who.textContent = m.author.name;
    const when = document.createElement("small");
    when.textContent = " " + fmt.format(new Date(m.createdAt));
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = m.body;
    li.append(who, when, body);
    if (prepend) list.prepend(li); else list.append(li);
    if (!oldest || m.id < oldest) oldest = m.id;
  }

  async function loadMessages(before) {
    const data = await api("GET", `/api/console/orgs/${orgId}/messages` + (before ? `?before=${before}` : ""));
    const msgs = data.messages;
    if (before) msgs.slice().reverse().forEach((m) => renderMessage(m, true));
    else msgs.forEach((m) => renderMessage(m, false));
    if (!before) { list.scrollTop = list.scrollHeight; markRead(); }
  }

  function markRead() {
    const last = list.lastElementChild;
    if (last && document.visibilityState === "visible") api("POST", `/api/console/orgs/${orgId}/read`, { messageId: Number(last.dataset.id) }).catch(() => {});
  }

  if (page === "org" && list) {
    loadMessages(0).catch((e) => console.error(e));
    document.getElementById("load-earlier").addEventListener("click", () => loadMessages(oldest));
    const text = document.getElementById("composer-text");
    const form = document.getElementById("composer");
    let clientId = crypto.randomUUID();
    async function send(e) {
      e.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      try {
        const m = await api("POST", `/api/console/orgs/${orgId}/messages`, { body, clientId });
        renderMessage(m, false);
        text.value = "";
        clientId = crypto.randomUUID(); // only a new message gets a new key; a retry keeps it
        list.scrollTop = list.scrollHeight;
      } catch (err) { alert("Not sent: " + err.message); }
    }
    form.addEventListener("submit", send);
    text.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) send(e); });
    document.addEventListener("visibilitychange", markRead);
  }

  // ---- live ----
  const status = document.getElementById("live-status");
  let delay = 1000;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/live");
    ws.onopen = () => { delay = 1000; };
    ws.onmessage = (ev) => {
      const f = JSON.parse(ev.data);
      if (f.type === "ready") { status.textContent = "● live"; status.className = "live on"; document.body.dataset.live = "open"; }
      if (f.type === "message" && page === "org" && String(f.message.orgId) === orgId) { renderMessage(f.message, false); list.scrollTop = list.scrollHeight; markRead(); }
      if (f.type === "message" && page === "home") {
        const cell = document.querySelector(`tr[data-org="${f.message.orgId}"] .unread`);
        if (cell && f.message.author.kind !== "staff") cell.textContent = String(Number(cell.textContent) + 1);
      }
      if (f.type === "ticket") onTicket(f);
    };
    ws.onclose = () => {
      status.textContent = "○ reconnecting"; status.className = "live off"; document.body.dataset.live = "closed";
      setTimeout(connect, delay + Math.random() * 500);
      delay = Math.min(delay * 2, 30000);
    };
  }

  // label renders a status or severity as the server-rendered timeline does.
  function label(kind, v) {
    if (!v) return "—";
    if (kind === "status") { const t = v.replace(/_/g, " "); return t.charAt(0).toUpperCase() + t.slice(1); }
    if (kind === "severity") return { sev1: "Sev 1 – critical", sev2: "Sev 2 – high", sev3: "Sev 3 – normal", sev4: "Sev 4 – low" }[v] || v;
    return v;
  }

  function onTicket(f) {
    if (page === "ticket" && String(f.ticket.id) === pageEl.dataset.ticketId) {
      const tl = document.getElementById("timeline");
      const e = f.event;
      if (!e || tl.querySelector(`[data-event="${e.id}"]`)) return;
      const li = document.createElement("li");
      li.className = "event kind-" + e.kind;
      li.dataset.event = e.id;
      const b = document.createElement("b");
      b.textContent = e.actor.name;
      const when = document.createElement("small");
      when.textContent = " " + fmt.format(new Date(e.createdAt)) + " ";
      li.append(b, when);
      if (e.kind === "comment") { const pre = document.createElement("pre"); pre.textContent = e.body; li.append(pre); }
      else li.append(document.createTextNode(e.kind === "created" ? "opened the ticket" : `changed ${e.kind}: ${label(e.kind, e.from)} → ${label(e.kind, e.to)}`));
      tl.append(li);
      return;
    }
    const row = document.querySelector(`tr.ticket[data-id="${f.ticket.id}"] .status`);
    if (row) row.textContent = f.ticket.statusLabel;
    else if (page === "home" || page === "org") {
      const note = document.getElementById("live-status");
      note.textContent = "● new ticket — reload"; 
    }
  }

  if (csrf) connect();
})();
