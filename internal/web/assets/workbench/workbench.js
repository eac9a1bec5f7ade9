// tamlink customer workbench: the Teams personal tab (and the same page in a
// plain browser). Plain ES2020, no build step, no third-party code.
//
// Design notes (the WHY behind the shape of this file):
// - The session token lives only in `state.session`. Nothing is written to
//   cookies or localStorage, so a token cannot outlive the page or leak to
//   other tabs; a reload simply signs in again (silently inside Teams).
// - Every piece of server data reaches the DOM through textContent. The page
//   never uses innerHTML, so message bodies and names cannot inject markup.
// - The server is the source of truth. Live frames are hints that are merged
//   by id; after any reconnect the lists are re-fetched so nothing is lost.
// - The CSP forbids inline styles, so visibility is driven by the `hidden`
//   attribute and classes only.
"use strict";

(() => {
  // The fragment as the page was opened (#ticket=ID deep links); sign-in
  // may replace it (#session=...) before add-on scripts run.
  const initialHash = location.hash;
  // ---------------------------------------------------------------- constants

  const TEAMS_INIT_TIMEOUT_MS = 3000; // the SDK's own time-out is far longer
  const TEAMS_CONTEXT_TIMEOUT_MS = 3000;
  const TOKEN_TIMEOUT_MS = 10000;
  // getAuthToken({silent:false}) shows Teams' consent dialog: give the person time.
  const INTERACTIVE_TOKEN_TIMEOUT_MS = 120000;
  const REFRESH_MARGIN_MS = 5 * 60 * 1000;
  const LIVE_MIN_DELAY_MS = 1000;
  const LIVE_MAX_DELAY_MS = 30000;
  const SEND_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
  // After the consent popup: consent takes seconds to propagate at Microsoft,
  // so the SSO exchange is retried after these waits before asking again.
  const CONSENT_RETRY_DELAYS_MS = [1000, 2000, 4000];
  // More re-sign-ins than this within the window means something is wrong
  // (e.g. the server rejects every fresh session); stop and ask the person.
  const REAUTH_LIMIT = 3;
  const REAUTH_WINDOW_MS = 2 * 60 * 1000;
  const POPUP_NAME = "tamlink-login";
  const POPUP_FEATURES = "width=600,height=535";

  const SEVERITIES = [
    ["sev1", "Sev 1 – critical"],
    ["sev2", "Sev 2 – high"],
    ["sev3", "Sev 3 – normal"],
    ["sev4", "Sev 4 – low"],
  ];

  // -------------------------------------------------------------------- state

  const state = {
    cfg: null,
    phase: "starting",
    session: null,
    expiresAt: null, // Date or null
    me: null, // user view
    org: null, // org view
    members: { users: [], staff: [] },
    teams: null, // {locale, loginHint, frameContext} when hosted by Teams
    locale: navigator.language || "en",
    unread: 0,
    messages: new Map(), // id -> message
    pending: new Map(), // clientId -> {clientId, body, createdAt, status, error, retryable, attempts}
    historyDone: false,
    lastReadSent: 0,
    tab: "conversation",
    tickets: new Map(), // id -> ticket
    open: null, // {id, ticket, events: Map id -> event, seq}
    notice: null, // {text, tone} kept across phase changes (e.g. invite result)
    inviteTried: false,
    signIn: null, // the in-flight sign-in, so concurrent 401s start only one
    renewing: null, // the in-flight silent renewal of a loaded workbench
    consentCause: null, // why the consent button shows: "teams", "consent_required", "interaction_required"
    reauths: [], // times of recent 401-driven re-sign-ins
    refreshTimer: 0,
    markReadTimer: 0,
    popup: null,
    live: { ws: null, token: null, wanted: false, attempts: 0, timer: 0 },
  };

  const nodes = {}; // stable elements of the shell, by short name
  const messageNodes = new Map(); // render key -> li
  const ticketNodes = new Map(); // ticket id -> li

  // ------------------------------------------------------------------ helpers

  const $ = (id) => document.getElementById(id);

  // el builds an element. props: id, className, text, hidden, type, attrs{}, on{}.
  // Children may be nodes or strings (strings become text nodes, never HTML).
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    const p = props || {};
    if (p.id) node.id = p.id;
    if (p.className) node.className = p.className;
    if (p.text !== undefined) node.textContent = p.text;
    if (p.hidden) node.hidden = true;
    if (p.type) node.type = p.type;
    for (const [k, v] of Object.entries(p.attrs || {})) node.setAttribute(k, v);
    for (const [k, v] of Object.entries(p.on || {})) node.addEventListener(k, v);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function setText(node, text) {
    const t = text == null ? "" : String(text);
    if (node.textContent !== t) node.textContent = t;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  class TimeoutError extends Error {}

  // withTimeout races p against a timer; the SDK calls have no time-out we can
  // rely on, and a hung host must not leave the page spinning forever.
  function withTimeout(p, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${what} timed out`)), ms);
    });
    return Promise.race([Promise.resolve(p), t]).finally(() => clearTimeout(timer));
  }

  function errText(e) {
    if (!e) return "";
    if (typeof e === "string") return e;
    return e.message || e.errorCode || String(e);
  }

  // A Teams SSO token is a JWT: three non-empty base64url parts. Anything else
  // (an empty string, an error text some hosts hand back) is never sent on.
  function looksLikeJwt(s) {
    return typeof s === "string" && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);
  }

  function newClientId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // randomUUID needs a secure context; plain-http demos fall back to this.
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  const idNum = (id) => Number(id) || 0;
  const humanize = (s) => String(s || "").replace(/_/g, " ");
  const severityLabel = (sev) => (SEVERITIES.find(([v]) => v === sev) || [sev, sev])[1];

  // ---------------------------------------------------------- time formatting

  const formatters = new Map();
  function formatter(kind) {
    const key = state.locale + "|" + kind;
    if (!formatters.has(key)) {
      const opts = kind === "time" ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" };
      let f;
      try {
        f = new Intl.DateTimeFormat(state.locale, opts);
      } catch (_) {
        // Teams may hand over a locale tag Intl does not know.
        f = new Intl.DateTimeFormat(undefined, opts);
      }
      formatters.set(key, f);
    }
    return formatters.get(key);
  }

  function formatTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const now = new Date();
    const today = d.toDateString() === now.toDateString();
    return formatter(today ? "time" : "datetime").format(d);
  }

  function timeEl(iso, className) {
    const t = el("time", { className: className || "time", text: formatTime(iso) });
    if (iso) t.dateTime = iso;
    return t;
  }

  // ---------------------------------------------------------------- HTTP API

  class ApiError extends Error {
    constructor(status, body) {
      const b = body && typeof body === "object" ? body : {};
      super(b.message || `The server answered ${status}.`);
      this.status = status;
      this.code = b.error || "";
      this.reason = b.reason || "";
      this.field = b.field || "";
    }
  }
  class NetworkError extends Error {}

  const isAuthError = (e) => e instanceof ApiError && e.status === 401;
  // Network failures and 5xx are worth retrying (posts carry idempotency keys);
  // 4xx answers will not change by asking again.
  const isRetryable = (e) => e instanceof NetworkError || (e instanceof ApiError && (e.status >= 500 || e.status === 429));

  async function readJSON(res) {
    if (res.status === 204) return null;
    const text = await res.text().catch(() => "");
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }

  // request calls the tab API. With auth (the default) it sends the bearer
  // session and treats 401 as "session gone": drop it and sign in again.
  async function request(method, path, body, opts) {
    const auth = !(opts && opts.auth === false);
    const token = state.session;
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) {
      if (!token) throw new ApiError(401, { error: "unauthorized", message: "You are not signed in." });
      headers.Authorization = "Bearer " + token;
    }
    let res;
    try {
      res = await fetch(state.cfg.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit", // the session is the bearer token, never a cookie
        cache: "no-store",
      });
    } catch (e) {
      throw new NetworkError("The desk could not be reached. Check your connection.");
    }
    const data = await readJSON(res);
    if (res.ok) return data;
    if (auth && res.status === 401) {
      // A refresh may have replaced the session while this call was in flight.
      if (state.session && state.session !== token) return request(method, path, body, opts);
      sessionRejected(token);
    }
    throw new ApiError(res.status, data);
  }

  // --------------------------------------------------------------- the shell

  function buildShell() {
    const app = $("app") || document.body.appendChild(el("div", { id: "app" }));
    app.replaceChildren();

    nodes.orgName = el("span", { id: "org-name", className: "org-name" });
    nodes.userName = el("span", { id: "user-name", className: "user-name" });
    nodes.unread = el("span", { id: "unread", className: "badge unread", hidden: true, attrs: { "aria-live": "polite" } });
    const header = el("header", { className: "topbar" },
      el("div", { className: "brand" }, nodes.orgName, el("span", { className: "brand-sub", text: "Service desk" })),
      el("div", { className: "who" }, nodes.userName));

    nodes.status = el("p", { id: "status-message", className: "status-message", attrs: { role: "status", "aria-live": "polite" } });
    nodes.statusDismiss = el("button", {
      id: "status-dismiss", className: "icon-button", type: "button", text: "×", hidden: true,
      attrs: { "aria-label": "Dismiss" }, on: { click: () => { state.notice = null; setStatus(""); } },
    });
    const banner = el("div", { id: "status-bar", className: "status-bar" }, nodes.status, nodes.statusDismiss);

    nodes.signin = el("button", { id: "signin-button", className: "primary", type: "button", text: "Sign in with Microsoft", hidden: true, on: { click: onSignInClick } });
    nodes.consent = el("button", { id: "consent-button", className: "primary", type: "button", text: "Grant consent", hidden: true, on: { click: onConsentClick } });
    nodes.retry = el("button", { id: "retry-button", type: "button", text: "Try again", hidden: true, on: { click: onRetryClick } });
    nodes.spinner = el("div", { className: "spinner", attrs: { "aria-hidden": "true" } });
    nodes.auth = el("section", { id: "auth-panel", className: "card auth-panel" }, nodes.spinner, nodes.signin, nodes.consent, nodes.retry);

    nodes.tabConversation = tabButton("conversation", "Conversation", nodes.unread);
    nodes.tabTickets = tabButton("tickets", "Tickets");
    const tablist = el("nav", { className: "tabs", attrs: { role: "tablist", "aria-label": "Workbench" }, on: { keydown: onTabKey } },
      nodes.tabConversation, nodes.tabTickets);

    nodes.panelConversation = buildConversationPanel();
    nodes.panelTickets = buildTicketsPanel();
    nodes.workspace = el("main", { id: "workspace", className: "workspace", hidden: true }, tablist, nodes.panelConversation, nodes.panelTickets);

    app.append(header, banner, nodes.auth, nodes.workspace);
    renderHeader();
  }

  function tabButton(name, label, badge) {
    return el("button", {
      id: "tab-" + name, className: "tab", type: "button",
      attrs: { role: "tab", "aria-controls": "panel-" + name, "aria-selected": String(name === state.tab) },
      on: { click: () => switchTab(name) },
    }, el("span", { text: label }), badge || null);
  }

  function buildConversationPanel() {
    nodes.loadEarlier = el("button", { id: "load-earlier", className: "link-button", type: "button", text: "Load earlier messages", hidden: true, on: { click: loadEarlier } });
    nodes.messages = el("ul", { id: "messages", className: "messages", attrs: { "aria-label": "Conversation" } });
    nodes.messagesEmpty = el("p", { className: "empty", text: "No messages yet. Write to the desk below.", hidden: true });
    nodes.composerText = el("textarea", {
      id: "composer-text", attrs: { rows: "2", placeholder: "Type a message", "aria-label": "Message", maxlength: "4000" },
      on: { keydown: onComposerKey },
    });
    nodes.composerSend = el("button", { id: "composer-send", className: "primary", type: "submit", text: "Send" });
    const composer = el("form", { id: "composer", className: "composer", on: { submit: (e) => { e.preventDefault(); sendComposer(); } } },
      nodes.composerText, nodes.composerSend);
    const scroller = el("div", { className: "conversation-scroll" }, nodes.loadEarlier, nodes.messagesEmpty, nodes.messages);
    nodes.scroller = scroller;
    return el("section", { id: "panel-conversation", className: "panel conversation", attrs: { role: "tabpanel", "aria-labelledby": "tab-conversation" } },
      scroller, composer);
  }

  function buildTicketsPanel() {
    nodes.newTitle = el("input", { id: "new-ticket-title", type: "text", attrs: { required: "", maxlength: "200", autocomplete: "off", placeholder: "Short summary" } });
    nodes.newDescription = el("textarea", { id: "new-ticket-description", attrs: { rows: "3", placeholder: "What happened? What did you expect?" } });
    nodes.newSeverity = el("select", { id: "new-ticket-severity" },
      ...SEVERITIES.map(([v, label]) => el("option", { text: label, attrs: { value: v } })));
    nodes.newSeverity.value = "sev3";
    nodes.newSubmit = el("button", { id: "new-ticket-submit", className: "primary", type: "submit", text: "Create ticket" });
    nodes.newError = el("p", { id: "new-ticket-error", className: "form-error", hidden: true, attrs: { role: "alert" } });
    nodes.newForm = el("form", { id: "new-ticket-form", className: "card new-ticket", on: { submit: onNewTicket } },
      el("h2", { text: "New ticket" }),
      field("Title", nodes.newTitle),
      field("Description", nodes.newDescription),
      el("div", { className: "form-row" }, field("Severity", nodes.newSeverity), nodes.newSubmit),
      nodes.newError);

    nodes.tickets = el("ul", { id: "tickets", className: "tickets", attrs: { "aria-label": "Tickets" } });
    nodes.ticketsEmpty = el("p", { className: "empty", text: "No tickets yet.", hidden: true });
    const list = el("div", { className: "ticket-list" }, nodes.newForm, el("h2", { className: "list-heading", text: "Your organisation's tickets" }), nodes.ticketsEmpty, nodes.tickets);

    nodes.ticketView = buildTicketView();
    nodes.ticketsLayout = el("div", { className: "tickets-layout" }, list, nodes.ticketView);
    return el("section", { id: "panel-tickets", className: "panel tickets-panel", hidden: true, attrs: { role: "tabpanel", "aria-labelledby": "tab-tickets" } },
      nodes.ticketsLayout);
  }

  function field(label, control) {
    const id = control.id;
    return el("div", { className: "field" }, el("label", { text: label, attrs: { for: id } }), control);
  }

  function buildTicketView() {
    const t = {};
    t.back = el("button", { id: "ticket-back", className: "link-button", type: "button", text: "‹ All tickets", on: { click: closeTicketView } });
    t.title = el("h2", { id: "ticket-title", className: "ticket-title" });
    t.severity = el("span", { id: "ticket-severity", className: "badge sev" });
    t.status = el("span", { id: "ticket-status", className: "badge status" });
    t.assignee = el("dd", { id: "ticket-assignee" });
    t.requester = el("dd", { id: "ticket-requester" });
    t.due = el("dd", { id: "ticket-due" });
    t.updated = el("dd", { id: "ticket-updated" });
    t.description = el("p", { id: "ticket-description", className: "ticket-description" });
    t.severityChange = el("select", { id: "ticket-severity-change", attrs: { "aria-label": "Change severity" }, on: { change: onSeverityChange } },
      ...SEVERITIES.map(([v, label]) => el("option", { text: label, attrs: { value: v } })));
    t.close = el("button", { id: "ticket-close", type: "button", text: "Close ticket", hidden: true, on: { click: () => changeStatus("closed") } });
    t.reopen = el("button", { id: "ticket-reopen", type: "button", text: "Reopen ticket", hidden: true, on: { click: () => changeStatus("open") } });
    t.timeline = el("ul", { id: "timeline", className: "timeline", attrs: { "aria-label": "Timeline" } });
    t.commentText = el("textarea", { id: "comment-text", attrs: { rows: "3", placeholder: "Add a comment", "aria-label": "Comment" }, on: { keydown: onCommentKey } });
    t.commentSend = el("button", { id: "comment-send", className: "primary", type: "submit", text: "Comment" });
    t.commentForm = el("form", { id: "comment-form", className: "comment-form", on: { submit: onComment } }, t.commentText, el("div", { className: "form-row end" }, t.commentSend));
    t.loading = el("p", { className: "empty", text: "Loading ticket…", hidden: true });
    nodes.tv = t;
    return el("section", { id: "ticket-view", className: "card ticket-view", hidden: true, attrs: { "aria-labelledby": "ticket-title" } },
      t.back,
      el("div", { className: "ticket-head" }, t.title, el("div", { className: "badges" }, t.severity, t.status)),
      t.loading,
      el("dl", { className: "facts" },
        el("dt", { text: "Assignee" }), t.assignee,
        el("dt", { text: "Requester" }), t.requester,
        el("dt", { text: "Response due" }), t.due,
        el("dt", { text: "Updated" }), t.updated),
      t.description,
      el("div", { className: "ticket-actions" }, t.severityChange, t.close, t.reopen),
      el("h3", { text: "Timeline" }),
      t.timeline,
      t.commentForm);
  }

  // ------------------------------------------------------------ phase/status

  // setPhase drives body[data-state] (tests and CSS read it) and which of the
  // sign-in controls are shown. message undefined keeps the current status.
  function setPhase(phase, message, tone) {
    state.phase = phase;
    document.body.dataset.state = phase;
    if (message !== undefined) setStatus(message, tone);
    nodes.signin.hidden = phase !== "signed-out";
    nodes.consent.hidden = phase !== "consent";
    nodes.retry.hidden = phase !== "error";
    nodes.spinner.hidden = !(phase === "starting" || phase === "signing-in");
    nodes.auth.hidden = phase === "ready" || phase === "unsupported";
    nodes.workspace.hidden = phase !== "ready";
    if (phase === "ready") scheduleMarkRead();
  }

  function setStatus(text, tone) {
    setText(nodes.status, text || "");
    nodes.status.dataset.tone = tone || "info";
    nodes.statusDismiss.hidden = !text || state.phase !== "ready";
  }

  function showNotice(text, tone) {
    state.notice = { text, tone };
    setStatus(text, tone);
    nodes.statusDismiss.hidden = false;
  }

  function setLive(s) {
    document.body.dataset.live = s;
  }

  // ------------------------------------------------------------------ themes

  function applyTheme(name) {
    const theme = name === "dark" || name === "contrast" ? name : "default";
    document.body.classList.remove("theme-default", "theme-dark", "theme-contrast");
    document.body.classList.add("theme-" + theme);
  }

  // Outside Teams the page follows the operating system's preference.
  function followSystemTheme() {
    if (!window.matchMedia) return applyTheme("default");
    const dark = matchMedia("(prefers-color-scheme: dark)");
    const contrast = matchMedia("(prefers-contrast: more)");
    const update = () => {
      if (state.teams) return; // Teams' theme wins once we know we are hosted
      applyTheme(contrast.matches ? "contrast" : dark.matches ? "dark" : "default");
    };
    dark.addEventListener("change", update);
    contrast.addEventListener("change", update);
    update();
  }

  // ------------------------------------------------------------ Teams hosting

  function isFramed() {
    try {
      return window.parent !== window;
    } catch (_) {
      return true;
    }
  }

  // surfaceOf says where Teams opened the tab. tamlink is a personal app:
  // anything with a channel, chat, meeting or team in its context is not.
  function surfaceOf(ctx) {
    if (!ctx) return "personal";
    if (ctx.channel) return ctx.channel.membershipType === "Shared" ? "sharedchannel" : "channel";
    if (ctx.meeting) return "meeting";
    if (ctx.chat) return "chat";
    if (ctx.team) return "channel";
    return "personal";
  }

  // detectTeams initialises the SDK when the page is framed (or in the mobile
  // clients' web view, which is not framed but exposes nativeInterface). An
  // initialise that never answers means "not in Teams": offer browser sign-in.
  async function detectTeams() {
    const mt = window.microsoftTeams;
    if (!mt || !mt.app || typeof mt.app.initialize !== "function") return null;
    if (!isFramed() && !window.nativeInterface) return null;
    const origins = Array.isArray(state.cfg.validOrigins) && state.cfg.validOrigins.length ? state.cfg.validOrigins : undefined;
    try {
      await withTimeout(mt.app.initialize(origins), TEAMS_INIT_TIMEOUT_MS, "Teams initialisation");
    } catch (_) {
      return null;
    }
    let ctx = null;
    try {
      ctx = await withTimeout(mt.app.getContext(), TEAMS_CONTEXT_TIMEOUT_MS, "Teams context");
    } catch (_) {
      ctx = null; // hosted but without context: still use SSO, just no hints
    }
    const app = (ctx && ctx.app) || {};
    const host = app.host || {};
    const teams = {
      locale: app.locale || null,
      theme: app.theme || "default",
      frameContext: (ctx && ctx.page && ctx.page.frameContext) || "",
      loginHint: (ctx && ctx.user && ctx.user.loginHint) || "",
      // A deep link's subEntityId (e.g. "ticket-42"), see window.tamlink.
      subPageId: (ctx && ctx.page && ctx.page.subPageId) || "",
      clientType: host.clientType || "",
      hostName: host.name || "",
      surface: surfaceOf(ctx),
    };
    try {
      mt.app.registerOnThemeChangeHandler((theme) => applyTheme(theme));
    } catch (_) { /* older hosts: keep the initial theme */ }
    try {
      const p = mt.app.notifySuccess && mt.app.notifySuccess();
      if (p && p.catch) p.catch(() => {});
    } catch (_) { /* only matters when the manifest asks for a loading indicator */ }
    return teams;
  }

  function useTeams(teams) {
    state.teams = teams;
    if (teams.locale) {
      state.locale = teams.locale;
      // Dates follow the Teams locale; so do screen readers and hyphenation.
      if (/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(teams.locale)) document.documentElement.lang = teams.locale;
    }
    applyTheme(teams.theme);
    if (teams.frameContext) document.body.dataset.frame = teams.frameContext;
    if (teams.clientType) document.body.dataset.client = teams.clientType;
    document.body.dataset.surface = teams.surface;
    document.body.dataset.host = "teams";
  }

  // notPersonalText is what the tab says when Teams opened it somewhere other
  // than the personal app: nothing there works for the desk.
  function notPersonalText(surface) {
    const open = "Open tamlink from the apps on the left side of Teams (… More apps → tamlink) to reach your service desk.";
    switch (surface) {
      case "sharedchannel":
        return "This tab is in a shared channel of another organisation's team. tamlink is a personal app for your own organisation. " + open;
      case "chat":
        return "tamlink is a personal app and does not work in chats. " + open;
      case "meeting":
        return "tamlink is a personal app and does not work in meetings. " + open;
      default:
        return "tamlink is a personal app and does not work as a channel tab. " + open;
    }
  }

  // -------------------------------------------------------------- signing in

  // SignInProblem says which way out the person has: "consent" (consent
  // button), "signin" (sign-in button) or "error" (retry button). code is
  // the server's error code when it gave one (consent_required,
  // interaction_required, invalid_token).
  class SignInProblem extends Error {
    constructor(kind, message, code) {
      super(message);
      this.kind = kind;
      this.code = code || "";
    }
  }

  // What a refused Teams token means for the person, by the server's reason.
  const TOKEN_REFUSALS = {
    audience: "Teams handed over a sign-in token for another app",
    tenant: "Teams handed over a sign-in token from another organisation",
    personal_account: "Personal Microsoft accounts cannot use this service desk",
    scope: "Teams handed over a sign-in token without tamlink's permission (access_as_user)",
    expired: "Teams handed over an expired sign-in token",
    not_yet_valid: "The sign-in token is not valid yet; check this device's clock",
    issued_in_future: "The sign-in token is not valid yet; check this device's clock",
  };

  function tokenRefusedText(reason) {
    const what = TOKEN_REFUSALS[reason] || "Teams handed over a sign-in token the desk could not verify";
    return `${what} (${reason || "invalid"}). Sign in with Microsoft instead; your administrator can look into it with "tamlink doctor token".`;
  }

  function loginHintParam() {
    const hint = (state.teams && state.teams.loginHint) || (state.me && state.me.email) || "";
    return hint ? "&login_hint=" + encodeURIComponent(hint) : "";
  }

  function countSsoAttempt() {
    const n = Number(document.body.dataset.ssoAttempts || 0) + 1;
    document.body.dataset.ssoAttempts = String(n);
  }

  // startSignIn runs the non-interactive part of signing in once at a time,
  // so a burst of 401s starts a single sign-in. The guard is released before
  // the workbench loads: a 401 while loading must be able to start another.
  function startSignIn() {
    if (state.signIn) return state.signIn;
    const obtain = obtainSession().finally(() => {
      state.signIn = null;
    });
    state.signIn = obtain;
    return obtain.then((result) => (result ? adoptSession(result, "sso") : undefined));
  }

  // obtainSession resolves with an SSO answer, or null when the person has
  // to act (a button is then shown).
  async function obtainSession() {
    if (!state.teams) {
      setPhase("signed-out", "Sign in with your work account to reach the service desk.");
      return null;
    }
    setPhase("signing-in", "Signing you in with Teams…");
    try {
      return await teamsSso();
    } catch (e) {
      signInFailed(e);
      return null;
    }
  }

  function signInFailed(e) {
    if (e instanceof SignInProblem && e.kind === "consent") {
      // What the consent button does next depends on who asked for it: Teams
      // (its own consent prompt was declined) or Microsoft's on-behalf-of
      // exchange (consent_required: approve, then let it propagate;
      // interaction_required: sign in interactively, e.g. for MFA).
      state.consentCause = e.code || "teams";
      setText(nodes.consent, e.code === "interaction_required" ? "Continue sign-in" : "Grant consent");
      setPhase("consent", e.message, "warn");
    } else if (e instanceof SignInProblem && e.kind === "error") {
      setPhase("error", e.message, "error");
    } else {
      setPhase("signed-out", errText(e) || "Sign-in did not complete.", "warn");
    }
  }

  // teamsToken asks Teams for the SSO token, with one interactive retry when
  // the resource needs consent (Teams then shows its own consent prompt).
  async function teamsToken() {
    const auth = window.microsoftTeams.authentication;
    try {
      return await withTimeout(auth.getAuthToken(), TOKEN_TIMEOUT_MS, "getAuthToken");
    } catch (e) {
      if (e instanceof TimeoutError) {
        throw new SignInProblem("signin", "Teams did not hand over a sign-in token in time. Sign in with Microsoft instead.");
      }
      if (!/resourceRequiresConsent/i.test(errText(e))) {
        throw new SignInProblem("signin", `Teams could not sign you in (${errText(e) || "unknown error"}). Sign in with Microsoft instead.`);
      }
    }
    try {
      return await withTimeout(auth.getAuthToken({ silent: false }), INTERACTIVE_TOKEN_TIMEOUT_MS, "getAuthToken");
    } catch (_) {
      throw new SignInProblem("consent", "tamlink needs your permission to sign you in. Grant consent to continue.", "teams");
    }
  }

  // teamsSso exchanges the Teams token for a tamlink session. A token that is
  // not a JWT (an empty string, an error text) never leaves the page.
  async function teamsSso() {
    const token = await teamsToken();
    if (!looksLikeJwt(token)) {
      throw new SignInProblem("signin", `Teams returned ${token ? "something that is not a sign-in token" : "an empty sign-in token"}. Sign in with Microsoft instead.`);
    }
    countSsoAttempt();
    try {
      const res = await request("POST", "/sso", { token }, { auth: false });
      if (!res || typeof res.session !== "string" || !res.session) {
        throw new SignInProblem("error", "The desk did not start a session. Try again.");
      }
      return res;
    } catch (e) {
      if (e instanceof SignInProblem) throw e;
      if (e instanceof ApiError && e.status === 403 && (e.code === "consent_required" || e.code === "interaction_required")) {
        const text = e.code === "interaction_required"
          ? "Microsoft needs you to sign in again (for example with multi-factor authentication) before tamlink can read your profile."
          : "Microsoft needs your approval before tamlink can read your profile. Grant consent to continue.";
        throw new SignInProblem("consent", text, e.code);
      }
      if (e instanceof ApiError && e.status === 401 && e.code === "invalid_token") {
        throw new SignInProblem("signin", tokenRefusedText(e.reason), e.code);
      }
      if (e instanceof NetworkError || (e instanceof ApiError && e.status >= 500)) {
        throw new SignInProblem("error", e.message);
      }
      throw new SignInProblem("signin", e.message || "Teams sign-in was refused. Sign in with Microsoft instead.");
    }
  }

  // adoptSession takes a session from any path (SSO, popup, fragment) and
  // brings the workbench up with it. via is recorded for tests and support.
  async function adoptSession(info, via) {
    state.session = info.session;
    state.expiresAt = info.expiresAt ? new Date(info.expiresAt) : null;
    if (state.expiresAt && isNaN(state.expiresAt.getTime())) state.expiresAt = null;
    if (info.user) state.me = info.user;
    if (info.org) state.org = info.org;
    state.consentCause = null;
    document.body.dataset.via = via || "";
    scheduleRefresh();
    renderHeader();
    await afterSignIn();
  }

  async function afterSignIn() {
    const session = state.session;
    setPhase("signing-in", "Loading your service desk…");
    try {
      await acceptInviteOnce();
      await loadAll();
    } catch (e) {
      if (isAuthError(e) || state.session !== session) return; // sign-in already restarted
      setPhase("error", "The service desk could not be loaded: " + errText(e), "error");
      return;
    }
    setPhase("ready", state.notice ? state.notice.text : "", state.notice ? state.notice.tone : undefined);
    if (state.notice) nodes.statusDismiss.hidden = false;
    connectLive();
    resendFailed();
    hooks.emit("ready");
  }

  // sessionRejected handles a 401 (or a 4401 socket close) for token. Inside
  // Teams a loaded workbench renews its session silently and keeps the page
  // as it is: the person notices nothing, and what failed is sent again.
  function sessionRejected(token) {
    if (!state.session || (token && token !== state.session)) return;
    if (state.renewing) return; // a silent renewal is already under way
    const now = Date.now();
    state.reauths = state.reauths.filter((t) => now - t < REAUTH_WINDOW_MS);
    state.reauths.push(now);
    if (state.reauths.length > REAUTH_LIMIT) {
      dropSession();
      setPhase("signed-out", "The desk keeps rejecting the sign-in. Sign in again.", "warn");
      return;
    }
    if (state.teams && state.phase === "ready") {
      state.renewing = renewSilently(token).finally(() => {
        state.renewing = null;
      });
      return;
    }
    dropSession();
    startSignIn();
  }

  // renewSilently swaps session token for a fresh one from Teams SSO without
  // leaving the workspace. If Teams cannot, the person is asked as usual.
  async function renewSilently(token) {
    let res;
    try {
      res = await teamsSso();
    } catch (e) {
      if (state.session !== token) return;
      dropSession();
      signInFailed(e);
      return;
    }
    if (state.session !== token) return;
    takeRenewal(res);
    const L = state.live;
    if (L.wanted && !L.ws) {
      L.attempts = 0;
      connectLive();
    }
    resendFailed();
    resync();
  }

  // takeRenewal installs a renewed session in place of the current one.
  function takeRenewal(res) {
    state.session = res.session;
    state.expiresAt = res.expiresAt ? new Date(res.expiresAt) : null;
    if (state.expiresAt && isNaN(state.expiresAt.getTime())) state.expiresAt = null;
    if (res.user) state.me = res.user;
    document.body.dataset.renewals = String(Number(document.body.dataset.renewals || 0) + 1);
    scheduleRefresh();
    renderHeader();
  }

  function dropSession() {
    state.session = null;
    state.expiresAt = null;
    clearTimeout(state.refreshTimer);
    stopLive();
  }

  // Session expiry: inside Teams the silent path is cheap (Teams caches its
  // token and fetches a fresh one when it has expired), so renew shortly
  // before the session ends. Outside Teams a 401 triggers sign-in instead.
  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    if (!state.teams || !state.expiresAt) return;
    const left = state.expiresAt.getTime() - Date.now();
    const delay = Math.max(1000, left - Math.min(REFRESH_MARGIN_MS, left / 5));
    state.refreshTimer = setTimeout(refreshSession, Math.min(delay, 2147483647));
  }

  async function refreshSession() {
    if (!state.teams || !state.session || state.signIn || state.renewing) return;
    const token = state.session;
    try {
      const res = await teamsSso();
      if (state.session === token) takeRenewal(res);
    } catch (_) {
      // Keep the current session; when it really ends a 401 starts sign-in.
    }
  }

  function refreshIfDue() {
    if (state.teams && state.expiresAt && state.expiresAt.getTime() - Date.now() < REFRESH_MARGIN_MS) refreshSession();
  }

  // Sign-in and consent buttons. Inside Teams the window belongs to Teams
  // (authentication.authenticate); outside, window.open. Both must run
  // synchronously in the click handler or popup blockers win.
  function onSignInClick() {
    if (state.teams) {
      teamsAuthenticate("", "signed-out");
    } else {
      browserSignIn();
    }
  }

  function onConsentClick() {
    const prompt = state.consentCause === "interaction_required" ? "login" : "consent";
    if (state.teams) {
      teamsAuthenticate(prompt, "consent");
    } else {
      browserSignIn(prompt);
    }
  }

  function onRetryClick() {
    if (state.session) afterSignIn();
    else startSignIn();
  }

  function absoluteUrl(u) {
    return new URL(u, location.href).href;
  }

  // hostAuthenticate asks Teams to open the sign-in window. The SDK refuses
  // start URLs that are not https ("Url should be a valid https url"); the
  // only host a plain-http tab can have is tamlink's emulated Teams client,
  // so there the same authentication.authenticate request goes through the
  // SDK's generic channel, and the host answers it alike.
  function hostAuthenticate(url) {
    const mt = window.microsoftTeams;
    if (location.protocol === "https:" || typeof mt.sendCustomMessage !== "function") {
      return mt.authentication.authenticate({ url, width: 600, height: 535 });
    }
    return new Promise((resolve, reject) => {
      mt.sendCustomMessage("authentication.authenticate", [url, 600, 535, false], (ok, result) => {
        if (ok) resolve(result);
        else reject(new Error(typeof result === "string" && result ? result : "UnexpectedFailure"));
      });
    });
  }

  async function teamsAuthenticate(prompt, backTo) {
    const cause = state.consentCause;
    const url = absoluteUrl(state.cfg.loginUrl + "?popup=1" + (prompt ? "&prompt=" + prompt : "") + loginHintParam());
    let pending;
    try {
      pending = hostAuthenticate(url);
    } catch (e) {
      pending = Promise.reject(e);
    }
    setPhase("signing-in", "Finish signing in: use the window that Teams opened…");
    let session;
    try {
      session = await pending;
    } catch (e) {
      const reason = errText(e);
      const text = /CancelledByUser/i.test(reason)
        ? "Sign-in was cancelled."
        : /FailedToOpenWindow/i.test(reason)
          ? "Teams could not open the sign-in window. Allow pop-ups and try again."
          : `Sign-in did not complete (${reason || "unknown error"}).`;
      setPhase(backTo, text, "warn");
      return;
    }
    if (typeof session !== "string" || !session) session = "";
    if (backTo === "consent" && cause === "consent_required") {
      await afterConsent(session);
      return;
    }
    if (!session) {
      setPhase(backTo, "The sign-in window returned no session.", "warn");
      return;
    }
    await adoptSession({ session }, "popup");
  }

  // afterConsent follows Microsoft's advice for the consent popup: consent
  // takes a few seconds to reach the token service, so retry the SSO
  // exchange up to three times, waiting 1, 2 and 4 s, before asking again.
  // The popup's own sign-in is the fallback if it never gets through.
  async function afterConsent(popupSession) {
    setPhase("signing-in", "Thanks — finishing sign-in…");
    for (const delay of CONSENT_RETRY_DELAYS_MS) {
      await sleep(delay);
      try {
        const res = await teamsSso();
        await adoptSession(res, "sso");
        return;
      } catch (e) {
        if (!(e instanceof SignInProblem && e.kind === "consent" && e.code === "consent_required")) break;
      }
    }
    if (popupSession) {
      await adoptSession({ session: popupSession }, "popup");
      return;
    }
    state.consentCause = "consent_required";
    setPhase("consent", "Microsoft has not registered your approval yet. Grant consent again.", "warn");
  }

  function browserSignIn(prompt) {
    const url = state.cfg.loginUrl + "?popup=1" + (prompt ? "&prompt=" + prompt : "") + loginHintParam();
    let w = null;
    try {
      w = window.open(url, POPUP_NAME, POPUP_FEATURES);
    } catch (_) {
      w = null;
    }
    if (!w) {
      // Popup blocked: do the sign-in in this window and come back here. The
      // query is kept so an invite landing page still has its invite.
      location.assign(state.cfg.loginUrl + "?return=" + encodeURIComponent(location.pathname + location.search));
      return;
    }
    state.popup = w;
    try {
      w.focus();
    } catch (_) { /* ignore */ }
    setPhase("signing-in", "Finish signing in: use the pop-up window…");
    watchPopup(w);
  }

  // watchPopup notices a popup closed without an answer. The callback posts
  // and then closes, so give its message a moment to arrive first.
  function watchPopup(w) {
    const timer = setInterval(() => {
      let closed = true;
      try {
        closed = w.closed;
      } catch (_) { /* cross-origin quirks: assume open */ closed = false; }
      if (!closed) return;
      clearInterval(timer);
      setTimeout(() => {
        if (state.popup === w && state.phase === "signing-in" && !state.session) {
          state.popup = null;
          setPhase("signed-out", "The sign-in window was closed before sign-in finished.", "warn");
        }
      }, 1000);
    }, 500);
  }

  // The callback page posts {type:"tamlink-login", session|error, ...}. Only
  // our own origin is trusted; Teams' SDK messages come from other origins.
  function onWindowMessage(ev) {
    if (ev.origin !== location.origin) return;
    const d = ev.data;
    if (!d || typeof d !== "object" || d.type !== "tamlink-login") return;
    state.popup = null;
    if (typeof d.session === "string" && d.session) {
      adoptSession({ session: d.session, expiresAt: d.expiresAt }, "popup");
    } else {
      setPhase("signed-out", d.message || d.error || "Sign-in did not complete.", "warn");
    }
  }

  // A non-popup callback returns here with #session=...; take it into memory
  // and wipe it from the address bar and history at once.
  function takeFragmentSession() {
    if (!location.hash || location.hash.length < 2) return null;
    const params = new URLSearchParams(location.hash.slice(1));
    const session = params.get("session");
    if (!session) return null;
    history.replaceState(history.state, "", location.pathname + location.search);
    return session;
  }

  // ------------------------------------------------------------------ invite

  async function acceptInviteOnce() {
    const inv = state.cfg.invite;
    if (!inv || !inv.invite || state.inviteTried) return;
    state.inviteTried = true;
    const orgName = (state.org && state.org.name) || state.cfg.orgName || "";
    let result;
    let text;
    let tone = "warn";
    try {
      await request("POST", "/invites/accept", { invite: inv.invite, exp: inv.exp, sig: inv.sig });
      result = "joined";
      text = orgName ? `You joined the ${orgName} service group.` : "You joined the service group.";
      tone = "ok";
    } catch (e) {
      if (isAuthError(e)) {
        state.inviteTried = false; // try again once signed in afresh
        throw e;
      }
      const expired = Number(inv.exp) > 0 && Number(inv.exp) * 1000 < Date.now();
      if (e instanceof ApiError && e.status === 409) {
        result = "used";
        text = "This invite link has already been used.";
      } else if (expired || /expired/i.test(e.message)) {
        result = "expired";
        text = "This invite link has expired. Ask your account manager for a new one.";
      } else if (e instanceof NetworkError || (e instanceof ApiError && e.status >= 500)) {
        state.inviteTried = false; // transient: the next sign-in may try again
        result = "error";
        text = "The invite could not be accepted right now: " + e.message;
      } else {
        result = "invalid";
        text = e.message || "This invite link is not valid.";
      }
    }
    document.body.dataset.invite = result;
    showNotice(text, tone);
    forgetInviteUrl();
  }

  // After the invite is handled, a reload should show the workbench, not the
  // invite landing page (whose check now fails because the invite is used).
  function forgetInviteUrl() {
    if (!/\/person\/inviteToGroup\/?$/.test(location.pathname)) return;
    history.replaceState(history.state, "", `/teams/${encodeURIComponent(state.cfg.appId)}/workbench`);
  }

  // -------------------------------------------------------------- data load

  async function loadAll() {
    await Promise.all([loadMe(), loadLatestMessages(), loadTickets()]);
  }

  async function loadMe() {
    const me = await request("GET", "/me");
    if (!me) return;
    state.me = me.user || state.me;
    state.org = me.org || state.org;
    if (me.members) state.members = { users: me.members.users || [], staff: me.members.staff || [] };
    if (typeof me.unread === "number") state.unread = me.unread;
    renderHeader();
  }

  // loadLatestMessages fetches the newest page and merges it. When the page
  // does not reach back to what we hold, there may be a hole in between, so
  // start over from this page (older pages can be loaded again).
  async function loadLatestMessages() {
    const res = await request("GET", "/messages");
    const page = (res && res.messages) || [];
    const newestKnown = newestMessageId();
    if (page.length && newestKnown && idNum(page[0].id) > newestKnown) {
      state.messages.clear();
      state.historyDone = false;
    }
    if (!state.messages.size && !page.length) state.historyDone = true;
    if (res && res.hasMore === false) state.historyDone = true;
    if (res && typeof res.unread === "number") state.unread = res.unread;
    addMessages(page, { scroll: "bottom" });
    renderUnread();
  }

  async function loadEarlier() {
    const oldest = oldestMessageId();
    if (!oldest) return;
    nodes.loadEarlier.disabled = true;
    try {
      const res = await request("GET", "/messages?before=" + encodeURIComponent(oldest));
      const page = (res && res.messages) || [];
      if (!page.length || (res && res.hasMore === false)) state.historyDone = true;
      addMessages(page, { scroll: "keep" });
    } catch (e) {
      if (!isAuthError(e)) showNotice("Earlier messages could not be loaded: " + e.message, "error");
    } finally {
      nodes.loadEarlier.disabled = false;
      renderMessages();
    }
  }

  async function loadTickets() {
    const res = await request("GET", "/tickets");
    state.tickets.clear();
    for (const t of (res && res.tickets) || []) state.tickets.set(idNum(t.id), t);
    renderTickets();
  }

  // resync closes any gap a dropped socket left.
  async function resync() {
    try {
      await Promise.all([loadLatestMessages(), loadTickets(), state.open ? openTicket(state.open.id, true) : null]);
      scheduleMarkRead();
    } catch (e) {
      if (!isAuthError(e)) setStatus("Could not refresh: " + e.message, "error");
    }
  }

  // ------------------------------------------------------------ conversation

  function newestMessageId() {
    let max = 0;
    for (const id of state.messages.keys()) if (id > max) max = id;
    return max;
  }

  function oldestMessageId() {
    let min = 0;
    for (const id of state.messages.keys()) if (!min || id < min) min = id;
    return min;
  }

  function isMine(m) {
    return !!(state.me && m && m.author && m.author.kind === "user" && idNum(m.author.id) === idNum(state.me.id));
  }

  // addMessages merges server messages by id; a message that carries the
  // clientId of a pending send replaces that pending bubble.
  function addMessages(list, opts) {
    const fresh = [];
    for (const m of list) {
      if (!m || m.id == null) continue;
      const id = idNum(m.id);
      // clientIds are random UUIDs, so a match can only be our own send.
      if (m.clientId && state.pending.has(m.clientId)) state.pending.delete(m.clientId);
      if (state.messages.has(id)) continue;
      state.messages.set(id, m);
      fresh.push(m);
    }
    renderMessages(opts && opts.scroll);
    return fresh;
  }

  function onLiveMessage(m) {
    const fresh = addMessages([m], { scroll: "auto" });
    if (!fresh.length || isMine(m)) return;
    if (conversationVisible()) {
      scheduleMarkRead();
    } else {
      state.unread += 1;
      renderUnread();
    }
  }

  function conversationVisible() {
    return state.phase === "ready" && state.tab === "conversation" && document.visibilityState === "visible";
  }

  function scheduleMarkRead() {
    if (!conversationVisible()) return;
    clearTimeout(state.markReadTimer);
    state.markReadTimer = setTimeout(markRead, 300);
  }

  async function markRead() {
    if (!conversationVisible() || !state.session) return;
    const newest = newestMessageId();
    if (!newest || (newest <= state.lastReadSent && state.unread === 0)) return;
    const previous = state.lastReadSent;
    state.lastReadSent = newest;
    state.unread = 0;
    renderUnread();
    try {
      await request("POST", "/read", { messageId: newest });
    } catch (e) {
      if (!isAuthError(e)) state.lastReadSent = previous; // try again next time
    }
  }

  function onComposerKey(e) {
    // Enter sends; Shift+Enter is a newline; never send mid IME composition.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendComposer();
    }
  }

  function sendComposer() {
    const body = nodes.composerText.value.trim();
    if (!body) return;
    const p = { clientId: newClientId(), body, createdAt: new Date().toISOString(), status: "sending", error: "", retryable: false, attempts: 0 };
    state.pending.set(p.clientId, p);
    nodes.composerText.value = "";
    renderMessages("bottom");
    deliver(p);
  }

  // deliver posts a pending message, retrying the SAME clientId so the
  // server stores it once however many attempts reach it.
  async function deliver(p) {
    p.status = "sending";
    p.error = "";
    renderMessages();
    for (;;) {
      if (!state.pending.has(p.clientId)) return; // the live copy already arrived
      try {
        const m = await request("POST", "/messages", { body: p.body, clientId: p.clientId });
        state.pending.delete(p.clientId);
        addMessages(m ? [m] : [], { scroll: "auto" });
        return;
      } catch (e) {
        if (!state.pending.has(p.clientId)) return;
        if (isRetryable(e) && p.attempts < SEND_RETRY_DELAYS_MS.length) {
          await sleep(SEND_RETRY_DELAYS_MS[p.attempts++]);
          continue;
        }
        p.status = "failed";
        p.retryable = isRetryable(e) || isAuthError(e);
        p.error = isAuthError(e) ? "Not sent: signing in again…" : "Not sent: " + e.message;
        renderMessages();
        return;
      }
    }
  }

  // resendFailed retries sends that failed for transient reasons, e.g. after
  // a reconnect or a fresh sign-in.
  function resendFailed() {
    for (const p of state.pending.values()) {
      if (p.status === "failed" && p.retryable) {
        p.attempts = 0;
        deliver(p);
      }
    }
  }

  function renderMessages(scroll) {
    const box = nodes.scroller;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    const prevHeight = box.scrollHeight;
    const prevTop = box.scrollTop;

    const ids = Array.from(state.messages.keys()).sort((a, b) => a - b);
    const keys = ids.map((id) => "m:" + id).concat(Array.from(state.pending.keys(), (c) => "p:" + c));
    reconcile(nodes.messages, keys, messageNodes,
      (key) => (key.startsWith("m:") ? messageNode(state.messages.get(Number(key.slice(2)))) : pendingNode(state.pending.get(key.slice(2)))),
      (key, li) => {
        if (key.startsWith("p:")) updatePendingNode(li, state.pending.get(key.slice(2)));
        // "mine" needs /me, which may answer after the first messages render.
        else li.classList.toggle("mine", isMine(state.messages.get(Number(key.slice(2)))));
      });

    nodes.messagesEmpty.hidden = keys.length > 0;
    nodes.loadEarlier.hidden = state.historyDone || ids.length === 0;

    if (scroll === "keep") {
      box.scrollTop = prevTop + (box.scrollHeight - prevHeight);
    } else if (scroll === "bottom" || (scroll === "auto" && nearBottom)) {
      box.scrollTop = box.scrollHeight;
    }
  }

  // reconcile makes list hold exactly the nodes for keys, in order, reusing
  // cached nodes so focus and scroll survive updates.
  function reconcile(list, keys, cache, make, update) {
    const keep = new Map();
    let cursor = list.firstChild;
    for (const key of keys) {
      let node = cache.get(key);
      if (!node) node = make(key);
      else if (update) update(key, node);
      keep.set(key, node);
      if (node === cursor) {
        cursor = cursor.nextSibling;
      } else {
        list.insertBefore(node, cursor);
      }
    }
    while (cursor) {
      const next = cursor.nextSibling;
      list.removeChild(cursor);
      cursor = next;
    }
    cache.clear();
    for (const [k, v] of keep) cache.set(k, v);
  }

  function messageNode(m) {
    const kind = (m.author && m.author.kind) || "user";
    const li = el("li", { className: `message kind-${kind}${isMine(m) ? " mine" : ""}` });
    li.dataset.id = String(m.id);
    if (m.clientId) li.dataset.clientId = m.clientId;
    const name = (m.author && m.author.name) || (kind === "system" ? "tamlink" : "Unknown");
    li.append(
      el("div", { className: "meta" },
        el("span", { className: "sender", text: name }),
        kind === "staff" ? el("span", { className: "tag", text: "Support" }) : null,
        timeEl(m.createdAt)),
      el("div", { className: "body", text: m.body || "" }));
    return li;
  }

  function pendingNode(p) {
    const li = el("li", { className: "message kind-user mine pending" });
    li.dataset.clientId = p.clientId;
    const name = (state.me && state.me.name) || "You";
    const statusLine = el("div", { className: "pending-status" });
    li.append(
      el("div", { className: "meta" }, el("span", { className: "sender", text: name }), timeEl(p.createdAt)),
      el("div", { className: "body", text: p.body }),
      statusLine);
    updatePendingNode(li, p);
    return li;
  }

  function updatePendingNode(li, p) {
    li.classList.toggle("failed", p.status === "failed");
    const line = li.querySelector(".pending-status");
    line.replaceChildren();
    if (p.status === "sending") {
      line.append(el("span", { text: "Sending…" }));
      return;
    }
    line.append(el("span", { className: "error-text", text: p.error || "Not sent." }));
    if (p.retryable) {
      line.append(el("button", { className: "link-button", type: "button", text: "Retry", on: { click: () => { p.attempts = 0; deliver(p); } } }));
    }
    line.append(el("button", { className: "link-button", type: "button", text: "Discard", on: { click: () => { state.pending.delete(p.clientId); renderMessages(); } } }));
  }

  // ----------------------------------------------------------------- header

  function renderHeader() {
    setText(nodes.orgName, (state.org && state.org.name) || state.cfg.orgName || "tamlink");
    setText(nodes.userName, state.me ? state.me.name || state.me.email || "" : "");
    if (state.me && state.me.email) nodes.userName.title = state.me.email;
    renderUnread();
  }

  function renderUnread() {
    const n = Math.max(0, state.unread | 0);
    setText(nodes.unread, n > 99 ? "99+" : String(n));
    nodes.unread.dataset.count = String(n);
    nodes.unread.hidden = n === 0;
    nodes.unread.setAttribute("aria-label", `${n} unread message${n === 1 ? "" : "s"}`);
  }

  // ------------------------------------------------------------------- tabs

  function switchTab(name) {
    state.tab = name;
    for (const [n, tab, panel] of [["conversation", nodes.tabConversation, nodes.panelConversation], ["tickets", nodes.tabTickets, nodes.panelTickets]]) {
      const on = n === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      tab.classList.toggle("active", on);
      panel.hidden = !on;
    }
    document.body.dataset.tab = name;
    if (name === "conversation") {
      nodes.scroller.scrollTop = nodes.scroller.scrollHeight;
      scheduleMarkRead();
    }
  }

  function onTabKey(e) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    const next = state.tab === "conversation" ? "tickets" : "conversation";
    switchTab(next);
    (next === "tickets" ? nodes.tabTickets : nodes.tabConversation).focus();
  }

  // ---------------------------------------------------------------- tickets

  function sortedTickets() {
    // Most recently updated first: that is what a customer looks for.
    return Array.from(state.tickets.values()).sort((a, b) =>
      String(b.updatedAt || "").localeCompare(String(a.updatedAt || "")) || idNum(b.id) - idNum(a.id));
  }

  function renderTickets() {
    const list = sortedTickets();
    const keys = list.map((t) => idNum(t.id));
    reconcile(nodes.tickets, keys, ticketNodes, (id) => ticketNode(state.tickets.get(id)), (id, li) => fillTicketNode(li, state.tickets.get(id)));
    nodes.ticketsEmpty.hidden = list.length > 0;
  }

  function ticketNode(t) {
    const li = el("li", { className: "ticket" });
    li.dataset.id = String(t.id);
    const button = el("button", { className: "ticket-open", type: "button", on: { click: () => openTicket(idNum(t.id)) } },
      el("span", { className: "ticket-title" }),
      el("span", { className: "ticket-meta" },
        el("span", { className: "badge sev" }),
        el("span", { className: "badge status" }),
        el("time", { className: "time ticket-updated" })));
    li.append(button);
    fillTicketNode(li, t);
    return li;
  }

  function fillTicketNode(li, t) {
    li.dataset.status = t.status || "";
    li.dataset.severity = t.severity || "";
    li.classList.toggle("closed", t.open === false);
    li.classList.toggle("selected", !!state.open && state.open.id === idNum(t.id));
    // The number is what staff quote ("ticket #4"), so customers see it too.
    setText(li.querySelector(".ticket-title"), "#" + t.id + " " + t.title);
    const sev = li.querySelector(".badge.sev");
    setText(sev, t.severityLabel || severityLabel(t.severity));
    sev.className = "badge sev " + (t.severity || "");
    const st = li.querySelector(".badge.status");
    setText(st, t.statusLabel || humanize(t.status));
    st.className = "badge status status-" + (t.status || "");
    const time = li.querySelector(".ticket-updated");
    setText(time, "Updated " + formatTime(t.updatedAt));
    if (t.updatedAt) time.dateTime = t.updatedAt;
  }

  function upsertTicket(t) {
    if (!t || t.id == null) return;
    state.tickets.set(idNum(t.id), t);
    renderTickets();
    if (state.open && state.open.id === idNum(t.id)) {
      state.open.ticket = t;
      renderTicketView();
    }
  }

  // openTicket loads a ticket with its timeline. A sequence number drops
  // answers that arrive after the person already opened another ticket.
  async function openTicket(id, quiet) {
    const seq = (state.open && state.open.seq ? state.open.seq : 0) + 1;
    if (!state.open || state.open.id !== id) {
      state.open = { id, ticket: state.tickets.get(id) || null, events: new Map(), seq };
    } else {
      state.open.seq = seq;
    }
    nodes.ticketView.hidden = false;
    nodes.ticketsLayout.classList.add("has-open");
    nodes.tv.loading.hidden = !!quiet || !!state.open.ticket;
    renderTicketView();
    renderTickets();
    try {
      const res = await request("GET", "/tickets/" + encodeURIComponent(id));
      if (!state.open || state.open.id !== id || state.open.seq !== seq) return;
      mergeTicketAnswer(res);
    } catch (e) {
      if (isAuthError(e)) return;
      if (!state.open || state.open.id !== id) return;
      if (quiet) throw e;
      showNotice("The ticket could not be loaded: " + e.message, "error");
    } finally {
      if (state.open && state.open.id === id) nodes.tv.loading.hidden = true;
    }
  }

  function mergeTicketAnswer(res) {
    if (!res) return;
    for (const ev of res.events || []) addEvent(ev);
    if (res.ticket) upsertTicket(res.ticket);
    renderTicketView();
  }

  function addEvent(ev) {
    if (!state.open || !ev || ev.id == null || idNum(ev.ticketId) !== state.open.id) return false;
    if (state.open.events.has(idNum(ev.id))) return false;
    state.open.events.set(idNum(ev.id), ev);
    return true;
  }

  function closeTicketView() {
    state.open = null;
    nodes.ticketView.hidden = true;
    nodes.ticketsLayout.classList.remove("has-open");
    renderTickets();
  }

  function renderTicketView() {
    const o = state.open;
    const tv = nodes.tv;
    if (!o) return;
    const t = o.ticket || {};
    nodes.ticketView.dataset.id = String(o.id);
    setText(tv.title, t.title || "Ticket #" + o.id);
    setText(tv.severity, t.severityLabel || severityLabel(t.severity));
    tv.severity.className = "badge sev " + (t.severity || "");
    tv.severity.dataset.value = t.severity || "";
    setText(tv.status, t.statusLabel || humanize(t.status));
    tv.status.className = "badge status status-" + (t.status || "");
    tv.status.dataset.value = t.status || "";
    setText(tv.assignee, t.assignee && t.assignee.name ? t.assignee.name : "Not assigned yet");
    setText(tv.requester, (t.requester && t.requester.name) || "");
    renderDue(t);
    setText(tv.updated, formatTime(t.updatedAt));
    setText(tv.description, t.description || "No description.");
    tv.description.classList.toggle("muted", !t.description);
    if (t.severity) tv.severityChange.value = t.severity;
    const isOpen = t.open !== undefined ? !!t.open : !["resolved", "closed"].includes(t.status);
    tv.close.hidden = !o.ticket || !isOpen;
    tv.reopen.hidden = !o.ticket || isOpen;
    tv.severityChange.disabled = !isOpen;
    renderTimeline();
  }

  function renderDue(t) {
    const tv = nodes.tv;
    if (!t.responseDue) {
      setText(tv.due, "—");
      return;
    }
    let text = formatTime(t.responseDue);
    const overdue = !t.firstResponseAt && new Date(t.responseDue).getTime() < Date.now() && t.open !== false;
    if (t.firstResponseAt) text += " · answered " + formatTime(t.firstResponseAt);
    else if (overdue) text += " · overdue";
    setText(tv.due, text);
    tv.due.classList.toggle("overdue", overdue);
  }

  function renderTimeline() {
    const events = Array.from(state.open.events.values()).sort((a, b) => idNum(a.id) - idNum(b.id));
    nodes.tv.timeline.replaceChildren(...events.map(eventNode));
  }

  function eventNode(ev) {
    const li = el("li", { className: "event kind-" + (ev.kind || "") });
    li.dataset.id = String(ev.id);
    li.dataset.kind = ev.kind || "";
    const actor = (ev.actor && ev.actor.name) || (ev.actor && ev.actor.kind === "system" ? "tamlink" : "Someone");
    if (ev.actor && ev.actor.kind) li.classList.add("actor-" + ev.actor.kind);
    li.append(el("div", { className: "event-head" },
      el("span", { className: "event-actor", text: actor }),
      el("span", { className: "event-text", text: eventText(ev) }),
      timeEl(ev.createdAt)));
    if (ev.kind === "comment" || (ev.kind === "created" && ev.body)) li.append(el("div", { className: "event-body", text: ev.body || "" }));
    return li;
  }

  function eventText(ev) {
    switch (ev.kind) {
      case "created":
        return "opened the ticket";
      case "comment":
        return "commented";
      case "status":
        return `status: ${humanize(ev.from) || "none"} → ${humanize(ev.to)}`;
      case "severity":
        return `severity: ${ev.from || "none"} → ${ev.to}`;
      case "assignee":
        return `assignee: ${ev.from || "unassigned"} → ${ev.to || "unassigned"}`;
      default:
        return [ev.kind, ev.from && ev.to ? `${ev.from} → ${ev.to}` : ""].filter(Boolean).join(": ");
    }
  }

  async function onNewTicket(e) {
    e.preventDefault();
    const title = nodes.newTitle.value.trim();
    nodes.newError.hidden = true;
    if (!title) {
      showFormError("A title is required.");
      nodes.newTitle.focus();
      return;
    }
    nodes.newSubmit.disabled = true;
    try {
      const t = await request("POST", "/tickets", {
        title,
        description: nodes.newDescription.value.trim(),
        severity: nodes.newSeverity.value || "sev3",
      });
      nodes.newForm.reset();
      nodes.newSeverity.value = "sev3";
      if (t) {
        upsertTicket(t);
        openTicket(idNum(t.id));
      }
    } catch (err) {
      if (!isAuthError(err)) showFormError(err.message);
    } finally {
      nodes.newSubmit.disabled = false;
    }
  }

  function showFormError(text) {
    setText(nodes.newError, text);
    nodes.newError.hidden = false;
  }

  function onCommentKey(e) {
    // Comments are often multi-line: Ctrl/Cmd+Enter sends, Enter is a newline.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.isComposing) {
      e.preventDefault();
      nodes.tv.commentForm.requestSubmit();
    }
  }

  async function onComment(e) {
    e.preventDefault();
    const o = state.open;
    const body = nodes.tv.commentText.value.trim();
    if (!o || !body) return;
    nodes.tv.commentSend.disabled = true;
    try {
      const ev = await request("POST", `/tickets/${encodeURIComponent(o.id)}/comments`, { body });
      nodes.tv.commentText.value = "";
      if (state.open === o && addEvent(ev)) renderTimeline();
      // A comment can change the ticket (waiting on customer → open); the live
      // frame says so, but without a socket fetch the ticket to stay right.
      if (document.body.dataset.live !== "open" && state.open === o) openTicket(o.id, true).catch(() => {});
    } catch (err) {
      if (!isAuthError(err)) showNotice("The comment was not added: " + err.message, "error");
    } finally {
      nodes.tv.commentSend.disabled = false;
    }
  }

  async function patchTicket(change) {
    const o = state.open;
    if (!o) return;
    const buttons = [nodes.tv.close, nodes.tv.reopen, nodes.tv.severityChange];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await request("PATCH", "/tickets/" + encodeURIComponent(o.id), change);
      if (state.open === o) mergeTicketAnswer(res);
      else if (res && res.ticket) upsertTicket(res.ticket);
    } catch (err) {
      if (!isAuthError(err)) showNotice("The ticket was not changed: " + err.message, "error");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      if (state.open === o) renderTicketView();
    }
  }

  function changeStatus(status) {
    patchTicket({ status });
  }

  function onSeverityChange() {
    const o = state.open;
    const sev = nodes.tv.severityChange.value;
    if (!o || !o.ticket || o.ticket.severity === sev) return;
    patchTicket({ severity: sev });
  }

  // ------------------------------------------------------------------- live

  function liveUrl() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${state.cfg.apiBase}/live`;
  }

  function connectLive() {
    const L = state.live;
    L.wanted = true;
    clearTimeout(L.timer);
    if (L.ws || !state.session) return;
    let ws;
    try {
      ws = new WebSocket(liveUrl());
    } catch (_) {
      scheduleReconnect();
      return;
    }
    const token = state.session;
    L.ws = ws;
    L.token = token;
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token })));
    ws.addEventListener("message", (ev) => onLiveFrame(ws, ev.data));
    ws.addEventListener("close", (ev) => onLiveClose(ws, ev));
    // "error" is always followed by "close", which does the work.
  }

  function onLiveFrame(ws, data) {
    if (state.live.ws !== ws) return;
    let f;
    try {
      f = JSON.parse(data);
    } catch (_) {
      return;
    }
    if (!f || typeof f !== "object") return;
    hooks.emit("frame", f);
    switch (f.type) {
      case "ready":
        state.live.attempts = 0;
        setLive("open");
        // Whatever happened while no socket was subscribed is only in the
        // database: fetch it (also covers the gap between load and connect).
        resync();
        resendFailed();
        break;
      case "message":
        if (f.message) onLiveMessage(f.message);
        break;
      case "ticket":
        onLiveTicket(f.ticket, f.event);
        break;
      case "member":
        onLiveMember(f.user);
        break;
      default:
        break; // unknown frames are ignored so the server can add new ones
    }
  }

  function onLiveTicket(ticket, ev) {
    if (ticket) upsertTicket(ticket);
    if (ev && addEvent(ev)) renderTimeline();
  }

  function onLiveMember(user) {
    if (!user || user.id == null) return;
    const users = state.members.users.filter((u) => idNum(u.id) !== idNum(user.id));
    users.push(user);
    state.members.users = users;
    if (state.me && idNum(state.me.id) === idNum(user.id)) {
      state.me = Object.assign({}, state.me, user);
      renderHeader();
    }
  }

  function onLiveClose(ws, ev) {
    const L = state.live;
    if (L.ws !== ws) return;
    L.ws = null;
    setLive("closed");
    if (!L.wanted) return;
    if (ev.code === 4401) {
      // The session may have been refreshed since this socket authenticated.
      if (state.session && state.session !== L.token) {
        connectLive();
      } else {
        sessionRejected(L.token);
      }
      return;
    }
    scheduleReconnect();
  }

  // Exponential back-off with jitter, 1 s up to 30 s, so a restarting server
  // is not hit by every tab at the same moment.
  function scheduleReconnect() {
    const L = state.live;
    clearTimeout(L.timer);
    const base = Math.min(LIVE_MAX_DELAY_MS, LIVE_MIN_DELAY_MS * 2 ** L.attempts);
    L.attempts += 1;
    const delay = Math.max(LIVE_MIN_DELAY_MS, Math.min(LIVE_MAX_DELAY_MS, base * (0.75 + Math.random() * 0.5)));
    L.timer = setTimeout(connectLive, delay);
  }

  function stopLive() {
    const L = state.live;
    L.wanted = false;
    clearTimeout(L.timer);
    if (L.ws) {
      const ws = L.ws;
      L.ws = null;
      try {
        ws.close(1000, "signed out");
      } catch (_) { /* already closing */ }
    }
    setLive("closed");
  }

  // --------------------------------------------------------------- lifecycle

  function onVisibility() {
    if (document.visibilityState !== "visible") return;
    refreshIfDue();
    scheduleMarkRead();
    // Browsers throttle timers in hidden tabs: reconnect now, not later.
    if (state.live.wanted && !state.live.ws) {
      state.live.attempts = 0;
      connectLive();
    }
  }

  function onOnline() {
    if (state.live.wanted && !state.live.ws) {
      state.live.attempts = 0;
      connectLive();
    }
    resendFailed();
  }

  function readConfig() {
    const node = $("tl-config");
    if (!node) return null;
    try {
      const cfg = JSON.parse(node.textContent || "null");
      if (!cfg || !cfg.apiBase || !cfg.loginUrl) return null;
      if (!Array.isArray(cfg.validOrigins)) cfg.validOrigins = [];
      return cfg;
    } catch (_) {
      return null;
    }
  }

  async function main() {
    document.body.dataset.state = "starting";
    setLive("closed");
    state.cfg = readConfig() || { apiBase: "", loginUrl: "", validOrigins: [], orgName: "" };
    buildShell();
    setPhase("starting", "Starting…");
    switchTab("conversation");
    if (!state.cfg.apiBase) {
      setPhase("error", "This page is missing its configuration. Reload it or ask your administrator.", "error");
      nodes.retry.hidden = true;
      return;
    }

    window.addEventListener("message", onWindowMessage);
    document.addEventListener("visibilitychange", onVisibility);
    window.addEventListener("online", onOnline);

    const fragmentSession = takeFragmentSession();
    followSystemTheme();
    const teams = await detectTeams();
    if (teams) useTeams(teams);
    renderHeader();

    if (teams && teams.surface !== "personal") {
      setPhase("unsupported", notPersonalText(teams.surface), "warn");
      return;
    }
    if (fragmentSession) {
      await adoptSession({ session: fragmentSession }, "fragment");
    } else {
      await startSignIn();
    }
  }

  // ---------------------------------------------------------- add-on hook
  //
  // window.tamlink is the small, stable surface add-on scripts (such as
  // notifications.js, the notification centre) use instead of reaching into
  // this file:
  //   request(method, path, body) -> Promise   the tab API, with the session
  //   on("frame", fn)   every live frame (parsed), including unknown types
  //   on("ready", fn)   the workbench is signed in and loaded (again after a
  //                     re-sign-in); called at once if it already is
  //   openTicket(id)    switch to Tickets and open ticket id
  //   teams             Teams context hints ({subPageId, locale, ...}) or null
  //   initialHash       location.hash as the page was opened
  //   isReady()         whether the workbench is loaded
  // on() returns a function that unsubscribes.
  const hooks = {
    listeners: { frame: new Set(), ready: new Set() },
    emit(kind, arg) {
      for (const fn of this.listeners[kind]) {
        try {
          fn(arg);
        } catch (e) {
          console.error("tamlink hook", kind, e); // an add-on must not break the workbench
        }
      }
    },
  };
  window.tamlink = Object.freeze({
    request: (method, path, body) => request(method, path, body),
    on(kind, fn) {
      const set = hooks.listeners[kind];
      if (!set || typeof fn !== "function") throw new Error("tamlink.on: unknown event " + kind);
      set.add(fn);
      if (kind === "ready" && state.phase === "ready") fn();
      return () => set.delete(fn);
    },
    openTicket(id) {
      const n = idNum(id);
      if (!n) return;
      switchTab("tickets");
      openTicket(n);
    },
    get teams() {
      return state.teams;
    },
    initialHash,
    isReady: () => state.phase === "ready",
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", main, { once: true });
  } else {
    main();
  }
})();
