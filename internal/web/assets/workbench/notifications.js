// tamlink workbench add-on: the notification centre (bell, unread count,
// list, mark read, per-kind "send to Teams" preferences), the Watch button
// of an open ticket, and deep links that open a ticket — the subEntityId of
// a Teams activity notification (page.subPageId, e.g. "ticket-42") or a
// "#ticket=42" fragment. It talks to workbench.js only through
// window.tamlink (see the hook's comment there). Plain ES2020; server data
// reaches the DOM through textContent only.
"use strict";

(() => {
  const tl = window.tamlink;
  if (!tl) return;

  const state = { items: new Map(), unread: 0, open: false, loaded: false, deepLinked: false, watch: null };

  function el(tag, props, ...children) {
    const n = document.createElement(tag);
    const p = props || {};
    if (p.id) n.id = p.id;
    if (p.className) n.className = p.className;
    if (p.text !== undefined) n.textContent = p.text;
    if (p.hidden) n.hidden = true;
    if (p.type) n.type = p.type;
    for (const [k, v] of Object.entries(p.attrs || {})) n.setAttribute(k, v);
    for (const [k, v] of Object.entries(p.on || {})) n.addEventListener(k, v);
    for (const c of children) if (c) n.append(typeof c === "string" ? document.createTextNode(c) : c);
    return n;
  }

  // ------------------------------------------------------------ deep links

  // ticketTarget reads a ticket id from "ticket-42", "ticket:42", "42".
  function ticketTarget(s) {
    const m = /^(?:ticket[-:=]?)?(\d+)$/.exec(String(s || "").trim());
    return m ? Number(m[1]) : 0;
  }

  function deepLinkedTicket() {
    const teams = tl.teams;
    const fromTeams = teams && ticketTarget(teams.subPageId);
    if (fromTeams) return fromTeams;
    const hash = tl.initialHash || "";
    if (hash.length > 1) return ticketTarget(new URLSearchParams(hash.slice(1)).get("ticket"));
    return 0;
  }

  function followDeepLink() {
    if (state.deepLinked) return;
    state.deepLinked = true;
    const id = deepLinkedTicket();
    if (id) tl.openTicket(id);
  }

  // ------------------------------------------------------------------ shell

  const ui = {};

  function build() {
    const who = document.querySelector(".topbar .who");
    if (!who || ui.bell) return !!ui.bell;
    ui.badge = el("span", { id: "notify-unread", className: "badge unread", hidden: true });
    ui.bell = el("button", {
      id: "notify-bell", className: "icon-button bell", type: "button",
      attrs: { "aria-label": "Notifications", "aria-expanded": "false", "aria-controls": "notify-panel" },
      on: { click: toggle },
    }, bellIcon(), ui.badge);
    ui.list = el("ul", { id: "notify-list", className: "notify-list", attrs: { "aria-label": "Notifications" } });
    ui.empty = el("p", { className: "empty", text: "No notifications yet." });
    ui.readAll = el("button", { id: "notify-read-all", className: "link-button", type: "button", text: "Mark all read", on: { click: () => markRead(null) } });
    ui.prefsButton = el("button", { id: "notify-prefs-toggle", className: "link-button", type: "button", text: "Settings", on: { click: togglePrefs } });
    ui.prefs = el("form", { id: "notify-prefs", className: "notify-prefs", hidden: true, on: { submit: (e) => e.preventDefault() } });
    ui.panel = el("section", { id: "notify-panel", className: "card notify-panel", hidden: true, attrs: { "aria-label": "Notifications" } },
      el("div", { className: "notify-head" }, el("h2", { text: "Notifications" }), ui.readAll, ui.prefsButton),
      ui.prefs, ui.empty, ui.list);
    who.prepend(ui.bell);
    who.append(ui.panel);
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && state.open) toggle();
    });
    return true;
  }

  // bellIcon draws the bell with SVG elements (no markup strings, no font).
  function bellIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "bell-icon");
    for (const d of ["M6 16V11a6 6 0 0 1 12 0v5l2 2H4z", "M10 20a2 2 0 0 0 4 0"]) {
      const p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      svg.append(p);
    }
    return svg;
  }

  function toggle() {
    state.open = !state.open;
    ui.panel.hidden = !state.open;
    ui.bell.setAttribute("aria-expanded", String(state.open));
    if (state.open) load().catch(() => {});
  }

  function renderBadge() {
    const n = Math.max(0, state.unread | 0);
    ui.badge.textContent = n > 99 ? "99+" : String(n);
    ui.badge.dataset.count = String(n);
    ui.badge.hidden = n === 0;
    ui.bell.setAttribute("aria-label", n ? `Notifications, ${n} unread` : "Notifications");
  }

  function formatTime(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const today = d.toDateString() === new Date().toDateString();
    try {
      return new Intl.DateTimeFormat((tl.teams && tl.teams.locale) || undefined, today ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" }).format(d);
    } catch (_) {
      return d.toLocaleString();
    }
  }

  function render() {
    const items = Array.from(state.items.values()).sort((a, b) => b.id - a.id);
    ui.list.replaceChildren(...items.map(itemNode));
    ui.empty.hidden = items.length > 0;
    renderBadge();
  }

  function itemNode(n) {
    const li = el("li", { className: "notify-item" + (n.readAt ? "" : " unread") });
    li.dataset.id = String(n.id);
    li.dataset.kind = n.kind || "";
    const body = el("button", { className: "notify-open", type: "button", on: { click: () => openItem(n) } },
      el("span", { className: "notify-kind", text: n.kindLabel || n.kind || "" }),
      el("span", { className: "notify-title", text: n.title || "" }),
      el("span", { className: "notify-text", text: n.text || "" }),
      el("time", { className: "time", text: formatTime(n.createdAt), attrs: { datetime: n.createdAt || "" } }));
    li.append(body);
    if (n.delivery === "muted") li.append(el("span", { className: "notify-muted", text: "not sent to Teams (muted)" }));
    return li;
  }

  function openItem(n) {
    if (!n.readAt) markRead([n.id]);
    if (n.ticketId) {
      tl.openTicket(n.ticketId);
      if (state.open) toggle();
    }
  }

  // ------------------------------------------------------------------- data

  function merge(list) {
    for (const n of list || []) if (n && n.id != null) state.items.set(Number(n.id), n);
  }

  async function load() {
    const res = await tl.request("GET", "/notifications");
    state.items.clear();
    merge(res && res.notifications);
    if (res && typeof res.unread === "number") state.unread = res.unread;
    state.loaded = true;
    render();
  }

  async function markRead(ids) {
    const now = new Date().toISOString();
    for (const n of state.items.values()) {
      if (!n.readAt && (!ids || ids.includes(n.id))) {
        n.readAt = now;
        state.unread = Math.max(0, state.unread - 1);
      }
    }
    if (!ids) state.unread = 0;
    render();
    try {
      await tl.request("POST", "/notifications/read", { ids: ids || [] });
    } catch (_) {
      load().catch(() => {}); // the server's count wins
    }
  }

  function onFrame(f) {
    if (f.type === "ready") {
      // Reconnected: what arrived meanwhile is only in the database.
      if (state.loaded) load().catch(() => {});
      return;
    }
    if (f.type !== "notification" || !f.notification) return;
    const fresh = !state.items.has(Number(f.notification.id));
    merge([f.notification]);
    if (fresh && !f.notification.readAt) state.unread += 1;
    render();
  }

  // ------------------------------------------------------------ preferences

  async function togglePrefs() {
    if (!ui.prefs.hidden) {
      ui.prefs.hidden = true;
      return;
    }
    let res;
    try {
      res = await tl.request("GET", "/notifications/preferences");
    } catch (_) {
      return;
    }
    const muted = new Set((res && res.muted) || []);
    const rows = ((res && res.kinds) || []).map((k) => {
      const box = el("input", { type: "checkbox", attrs: { name: "teams", value: k.type } });
      box.checked = !muted.has(k.type);
      box.addEventListener("change", savePrefs);
      return el("label", { className: "check" }, box, " " + k.description);
    });
    ui.prefs.replaceChildren(el("p", { text: "Send to Teams:" }), ...rows);
    ui.prefs.hidden = false;
  }

  async function savePrefs() {
    const muted = Array.from(ui.prefs.querySelectorAll("input[name=teams]")).filter((b) => !b.checked).map((b) => b.value);
    try {
      await tl.request("PUT", "/notifications/preferences", { muted });
    } catch (_) { /* the next open shows the server's view */ }
  }

  // ------------------------------------------------------------------ watch

  // The open ticket is #ticket-view[data-id]; its Watch button follows it.
  function watchTicketView() {
    const view = document.getElementById("ticket-view");
    const actions = view && view.querySelector(".ticket-actions");
    if (!view || !actions) return;
    ui.watch = el("button", { id: "ticket-watch", type: "button", hidden: true, on: { click: onWatchClick } });
    actions.append(ui.watch);
    const update = () => refreshWatch(view.hidden ? 0 : Number(view.dataset.id) || 0);
    new MutationObserver(update).observe(view, { attributes: true, attributeFilter: ["data-id", "hidden"] });
    update();
  }

  async function refreshWatch(id) {
    state.watch = null;
    ui.watch.hidden = true;
    if (!id) return;
    try {
      const res = await tl.request("GET", `/tickets/${id}/watch`);
      if (Number(document.getElementById("ticket-view").dataset.id) !== id || !res || res.requester) return;
      state.watch = { id, on: !!res.watching };
      ui.watch.textContent = res.watching ? "Stop watching" : "Watch";
      ui.watch.hidden = false;
    } catch (_) { /* no button */ }
  }

  async function onWatchClick() {
    const w = state.watch;
    if (!w) return;
    ui.watch.disabled = true;
    try {
      await tl.request(w.on ? "DELETE" : "PUT", `/tickets/${w.id}/watch`);
      w.on = !w.on;
      ui.watch.textContent = w.on ? "Stop watching" : "Watch";
    } catch (_) { /* unchanged */ } finally {
      ui.watch.disabled = false;
    }
  }

  // ------------------------------------------------------------------ start

  tl.on("frame", onFrame);
  tl.on("ready", () => {
    if (!build()) return;
    if (!ui.watch) watchTicketView();
    load().catch(() => {});
    followDeepLink();
  });
})();
