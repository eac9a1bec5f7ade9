// Teams host emulator: this page plays the Microsoft Teams client for one tab
// app. It frames the app's tab and answers what @microsoft/teams-js sends from
// the frame (and from the sign-in window it opens), as Teams does:
//
//   request  (app → host): {id, uuidAsString, func, args, timestamp, apiVersionTag, …}
//   response (host → app): {id, uuidAsString, args, isPartialResponse}
//   event    (host → app): {func, args}            e.g. themeChange
//
// Every message is checked for its window and origin: only the tab's frame
// and the sign-in window this page opened, and only from the tab's origin.
// window.tamlinkHost exposes the host's state to tests and the console.
"use strict";

(() => {
  const cfg = JSON.parse(document.getElementById("host-config").textContent);
  const flags = cfg.flags || {};
  const origin = cfg.contentOrigin;
  const frame = document.getElementById("app-frame");
  const MOBILE = flags.client === "android" || flags.client === "ios";
  const LOG_LIMIT = 200;

  const randomId = () => (crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));
  const SESSION_ID = randomId();
  const APP_SESSION_ID = randomId();

  const host = {
    theme: flags.theme || "default",
    consented: false, // consent=once: Teams' own consent prompt was accepted
    sdkVersion: "",
    initialized: 0, // initialize requests answered (frame and sign-in windows)
    tokenRequests: [], // {silent, answer}
    tokensIssued: 0, // tokens fetched from the emulator (not answered from cache)
    cached: null, // {token, refreshAt}
    auth: null, // the open sign-in window: {req, win, timer}
    authResults: [], // what authenticate answered the tab
    handlers: [],
    events: [], // the log, as text
    setTheme,
  };
  window.tamlinkHost = host;

  // ------------------------------------------------------------------ log

  const logList = document.getElementById("log");
  function log(dir, text) {
    const line = `${new Date().toLocaleTimeString()} ${dir} ${text}`;
    host.events.push(line);
    if (host.events.length > LOG_LIMIT) host.events.shift();
    if (!logList) return;
    const li = document.createElement("li");
    li.className = dir === "←" ? "in" : dir === "→" ? "out" : "note";
    li.textContent = line;
    logList.prepend(li);
    while (logList.childElementCount > LOG_LIMIT) logList.lastElementChild.remove();
  }

  function mark() {
    document.body.dataset.tokenRequests = String(host.tokenRequests.length);
    document.body.dataset.tokensIssued = String(host.tokensIssued);
  }

  // ------------------------------------------------------------- protocol

  function respond(target, targetOrigin, req, args) {
    target.postMessage({ id: req.id, uuidAsString: req.uuidAsString, args, isPartialResponse: false }, targetOrigin);
  }

  function runtimeConfig() {
    return {
      apiVersion: 4,
      hostVersionsInfo: { adaptiveCardSchemaVersion: { majorVersion: 1, minorVersion: 5 } },
      isNAAChannelRecommended: false,
      isLegacyTeams: false,
      supports: {
        app: {},
        appInstallDialog: {},
        authentication: {},
        dialog: { url: {}, update: {} },
        logs: {},
        menus: {},
        pages: { appButton: {}, tabs: {}, config: {}, backStack: {}, fullTrust: {} },
        teamsCore: {},
      },
    };
  }

  // initialize's answer: [frameContext, hostClientType, runtimeConfig, clientSupportedSDKVersion].
  // Teams mobile sends no runtime config, only a version where the runtime
  // belongs; the SDK then builds the runtime itself (its back-compat path).
  function initializeAnswer(frameContext, sdkVersion) {
    const version = typeof sdkVersion === "string" && /^\d+\.\d+\.\d+/.test(sdkVersion) ? sdkVersion : "2.0.0";
    if (MOBILE) return [frameContext, flags.client, version];
    return [frameContext, flags.client, JSON.stringify(runtimeConfig()), version];
  }

  // The SDK's legacy context shape; app.getContext() turns it into app.Context.
  function context(frameContext) {
    const u = cfg.user;
    const c = {
      locale: flags.locale,
      theme: host.theme,
      entityId: cfg.tab.entityId,
      frameContext,
      hostClientType: flags.client,
      hostName: flags.hostname,
      sessionId: SESSION_ID,
      appSessionId: APP_SESSION_ID,
      ringId: "general",
      appId: cfg.teamsAppId,
      userObjectId: u.id,
      userDisplayName: u.name,
      userPrincipalName: u.upn,
      loginHint: u.loginHint,
      userLicenseType: "Unknown",
      tid: cfg.tenantId,
      tenantSKU: "enterprise",
      isFullScreen: false,
      isMultiWindow: false,
    };
    const teamGroup = "5f2a1b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    switch (flags.context) {
      case "channel":
        Object.assign(c, {
          entityId: "tamlink-channel-tab", channelId: "19:a1b2c3d4e5f6@thread.tacv2", channelName: "General", channelType: "Regular",
          teamId: "19:f6e5d4c3b2a1@thread.tacv2", teamName: `${cfg.tenantName} IT`, groupId: teamGroup, teamType: 0, userTeamRole: 1,
          hostTeamGroupId: teamGroup, hostTeamTenantId: cfg.tenantId,
        });
        break;
      case "sharedchannel":
        // A shared channel of another organisation's team: the tab runs in
        // the host team's tenant, not the user's.
        Object.assign(c, {
          entityId: "tamlink-channel-tab", channelId: "19:0a1b2c3d4e5f@thread.tacv2", channelName: "Partner support", channelType: "Shared",
          teamId: "19:5f4e3d2c1b0a@thread.tacv2", teamName: "Fabrikam partners", groupId: teamGroup, teamType: 0, userTeamRole: 2,
          hostTeamGroupId: teamGroup, hostTeamTenantId: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        });
        break;
      case "groupchat":
        Object.assign(c, { entityId: "tamlink-chat-tab", chatId: "19:meeting_a1b2c3@thread.v2" });
        break;
      case "meeting":
        Object.assign(c, { entityId: "tamlink-meeting-tab", chatId: "19:meeting_d4e5f6@thread.v2", meetingId: "MCMxOTptZWV0aW5n" });
        break;
      default:
        break;
    }
    return c;
  }

  // ---------------------------------------------------------- getAuthToken

  async function getAuthToken(args) {
    const [, , silentArg] = args || [];
    const silent = silentArg !== false; // the SDK's default is the silent call
    const entry = { silent, answer: "pending" };
    host.tokenRequests.push(entry);
    mark();
    log("←", `authentication.getAuthToken (${silent ? "silent" : "may prompt"})`);
    const done = (ans) => {
      entry.answer = ans[0] ? (ans[1] ? "token" : "empty") : ans[1];
      log("→", ans[0] ? `token ${ans[1] ? ans[1].slice(0, 12) + "…" : "(empty string)"}` : `failed: ${ans[1]}`);
      mark();
      return ans;
    };
    if (flags.token === "hang") {
      entry.answer = "never";
      log("·", "getAuthToken is left unanswered (token=hang)");
      return null;
    }
    if (flags.consent === "deny") {
      return done([false, silent ? "resourceRequiresConsent" : "CancelledByUser"]);
    }
    if (flags.consent === "once" && !host.consented) {
      if (silent) return done([false, "resourceRequiresConsent"]);
      host.consented = true;
      log("·", `Teams asked ${cfg.user.name} to consent to ${cfg.appName}: accepted`);
    }
    if (flags.token === "empty") return done([true, ""]);
    if (flags.token === "junk") return done([true, "Error: token unavailable"]);
    const now = Date.now();
    // Teams answers from its cache until shortly before the token expires.
    if (host.cached && now < host.cached.refreshAt) return done([true, host.cached.token]);
    const kind = flags.token === "otherapp" || flags.token === "expired" ? flags.token : "";
    let res;
    let body = {};
    try {
      res = await fetch(cfg.tokenUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ tenant: cfg.tenantId, app: cfg.appId, user: cfg.user.id, lifetime: Number(flags.lifetime) || 0, kind }),
        credentials: "same-origin",
        cache: "no-store",
      });
      body = await res.json();
    } catch (_) {
      return done([false, "networkError"]);
    }
    if (!res.ok || typeof body.token !== "string") return done([false, body.error || "internalError"]);
    host.tokensIssued += 1;
    const life = Math.max(0, body.expiresOn - now);
    host.cached = kind ? null : { token: body.token, refreshAt: body.expiresOn - Math.min(5 * 60 * 1000, life / 4) };
    return done([true, body.token]);
  }

  // ---------------------------------------------------------- authenticate

  // authenticate opens the sign-in window, as Teams does for
  // authentication.authenticate. The page in it runs teams-js, whose parent
  // is window.opener: this page. It answers that window's initialize with
  // frameContext "authentication" and turns its notifySuccess/notifyFailure
  // into the answer to the tab's request. A window closed without either is
  // CancelledByUser.
  function authenticate(req) {
    const [url, width, height] = req.args || [];
    const answer = (args) => {
      host.authResults.push(args[0] ? "success" : String(args[1]));
      log("→", `authenticate: ${args[0] ? "success" : "failed: " + args[1]}`);
      respond(frame.contentWindow, origin, req, args);
    };
    log("←", `authentication.authenticate ${url}`);
    if (host.auth) finishAuth([false, "CancelledByUser"]);
    let u;
    try {
      u = new URL(url);
    } catch (_) {
      return answer([false, "The sign-in URL is not valid"]);
    }
    if (u.origin !== origin) {
      // Teams opens only URLs of the app's validDomains.
      return answer([false, `The sign-in URL ${u.origin} is not in the app's validDomains`]);
    }
    if (flags.popup === "block") return answer([false, "FailedToOpenWindow"]);
    const w = Math.min(Number(width) || 600, screen.availWidth || 600);
    const h = Math.min(Number(height) || 535, screen.availHeight || 535);
    const left = Math.max(0, window.screenX + (window.outerWidth - w) / 2);
    const top = Math.max(0, window.screenY + (window.outerHeight - h) / 2);
    let win = null;
    try {
      win = window.open(u.href, "teams-authentication", `width=${w},height=${h},left=${left},top=${top}`);
    } catch (_) {
      win = null;
    }
    if (!win) return answer([false, "FailedToOpenWindow"]);
    const a = { req, win, answer, timer: 0 };
    a.timer = setInterval(() => {
      let closed = false;
      try {
        closed = win.closed;
      } catch (_) { /* treat as open */ }
      if (!closed) return;
      clearInterval(a.timer);
      // notifySuccess posts, then closes the window: let its message land.
      setTimeout(() => {
        if (host.auth === a) finishAuth([false, "CancelledByUser"]);
      }, 500);
    }, 300);
    host.auth = a;
  }

  function finishAuth(args) {
    const a = host.auth;
    if (!a) return;
    host.auth = null;
    clearInterval(a.timer);
    a.answer(args);
    setTimeout(() => {
      try {
        if (!a.win.closed) a.win.close();
      } catch (_) { /* gone */ }
    }, 400);
  }

  // ------------------------------------------------------------- dispatch

  function onFrameMessage(ev, req) {
    const answer = (args) => respond(ev.source, ev.origin, req, args);
    switch (req.func) {
      case "initialize":
        host.sdkVersion = String((req.args && req.args[0]) || "");
        host.initialized += 1;
        log("←", `initialize (teams-js ${host.sdkVersion})`);
        answer(initializeAnswer("content", host.sdkVersion));
        log("→", `content, ${flags.client}${MOBILE ? ", no runtime config (as Teams mobile)" : ""}`);
        document.body.dataset.host = "initialized";
        break;
      case "getContext":
        log("←", "getContext");
        answer([context("content")]);
        break;
      case "authentication.getAuthToken":
        getAuthToken(req.args).then((ans) => {
          if (ans) answer(ans);
        });
        break;
      case "authentication.authenticate":
        authenticate(req);
        break;
      case "registerHandler":
        host.handlers.push(String(req.args && req.args[0]));
        break;
      case "appInitialization.success":
      case "appInitialization.appLoaded":
        log("←", req.func);
        document.body.dataset.app = "loaded";
        break;
      case "appInitialization.failure":
      case "appInitialization.expectedFailure":
        log("←", `${req.func}: ${(req.args || []).join(" ")}`);
        document.body.dataset.app = "failed";
        break;
      default:
        log("←", `${req.func} (not emulated; no answer)`);
    }
  }

  function onAuthWindowMessage(ev, req) {
    const answer = (args) => respond(ev.source, ev.origin, req, args);
    switch (req.func) {
      case "initialize":
        host.initialized += 1;
        log("←", "initialize from the sign-in window");
        answer(initializeAnswer("authentication", req.args && req.args[0]));
        break;
      case "getContext":
        answer([context("authentication")]);
        break;
      case "authentication.authenticate.success":
        log("←", "notifySuccess from the sign-in window");
        finishAuth([true, req.args ? req.args[0] : undefined]);
        break;
      case "authentication.authenticate.failure":
        log("←", `notifyFailure: ${req.args && req.args[0]}`);
        finishAuth([false, (req.args && req.args[0]) || "CancelledByUser"]);
        break;
      default:
        log("←", `${req.func} from the sign-in window (ignored)`);
    }
  }

  window.addEventListener("message", (ev) => {
    const d = ev.data;
    if (!d || typeof d !== "object" || typeof d.func !== "string") return;
    const fromFrame = ev.source === frame.contentWindow;
    const fromAuth = !!host.auth && ev.source === host.auth.win;
    if (!fromFrame && !fromAuth) return;
    if (ev.origin !== origin) {
      log("·", `ignored ${d.func} from ${ev.origin}: not the app's origin`);
      return;
    }
    if (fromFrame) onFrameMessage(ev, d);
    else onAuthWindowMessage(ev, d);
  });

  // ---------------------------------------------------------------- theme

  function setTheme(name) {
    const theme = ["default", "dark", "contrast"].includes(name) ? name : "default";
    host.theme = theme;
    document.body.classList.remove("host-theme-default", "host-theme-dark", "host-theme-contrast");
    document.body.classList.add("host-theme-" + theme);
    for (const b of document.querySelectorAll(".theme-buttons button")) b.setAttribute("aria-pressed", String(b.dataset.theme === theme));
    if (frame.contentWindow) frame.contentWindow.postMessage({ func: "themeChange", args: [theme] }, origin);
    log("→", `themeChange ${theme}`);
  }

  // ------------------------------------------------------------------ page

  const FLAG_TEXT = {
    consent: { once: "Consent required until a non-silent getAuthToken", deny: "The person declines Teams' consent prompt" },
    token: {
      hang: "getAuthToken never answers", empty: "getAuthToken answers an empty string", junk: "getAuthToken answers a non-JWT string",
      otherapp: "getAuthToken answers a token for another app", expired: "getAuthToken answers an expired token",
    },
    context: { channel: "Opened as a channel tab", sharedchannel: "Opened in another organisation's shared channel", groupchat: "Opened in a group chat", meeting: "Opened in a meeting" },
    client: { desktop: "Teams desktop", android: "Teams for Android", ios: "Teams for iOS" },
    popup: { block: "Sign-in windows are blocked" },
  };

  function renderChrome() {
    const u = cfg.user;
    const me = document.getElementById("me");
    me.textContent = u.name.split(/\s+/).map((p) => p[0] || "").join("").slice(0, 2).toUpperCase();
    me.title = `${u.name} (${u.upn})${u.guest ? " — guest" : ""}`;
    document.getElementById("rail-app").textContent = cfg.appName;
    document.getElementById("app-icon").textContent = (cfg.appName || "?").slice(0, 1).toUpperCase();
    const where = {
      channel: `${cfg.tenantName} IT › General`, sharedchannel: "Fabrikam partners › Partner support",
      groupchat: "Group chat", meeting: "Meeting",
    }[flags.context];
    document.getElementById("app-title").textContent = where || cfg.appName;
    document.getElementById("app-tab").textContent = cfg.tab.name;
    frame.title = cfg.tab.name;

    const sel = document.getElementById("user-select");
    for (const x of cfg.users) {
      const o = document.createElement("option");
      o.value = x.id;
      o.textContent = `${x.name}${x.guest ? " (guest)" : ""}`;
      o.selected = x.id === u.id;
      sel.append(o);
    }
    sel.addEventListener("change", () => {
      const q = new URLSearchParams(location.search);
      q.set("user", sel.value);
      location.search = q.toString();
    });

    for (const b of document.querySelectorAll(".theme-buttons button")) {
      b.setAttribute("aria-pressed", String(b.dataset.theme === host.theme));
      b.addEventListener("click", () => setTheme(b.dataset.theme));
    }

    const list = document.getElementById("flags");
    const items = [];
    for (const [k, texts] of Object.entries(FLAG_TEXT)) {
      if (texts[flags[k]]) items.push(texts[flags[k]]);
    }
    items.push(`Locale ${flags.locale}`);
    if (flags.lifetime) items.push(`Tokens live ${flags.lifetime} s`);
    if (items.length === 1) items.unshift("A well-behaved Teams web client");
    for (const t of items) {
      const li = document.createElement("li");
      li.textContent = t;
      list.append(li);
    }
    if (MOBILE) document.getElementById("frame-box").classList.add("phone");
  }

  renderChrome();
  mark();
  log("·", `${cfg.user.name} opens ${cfg.appName} (${flags.context}, ${flags.client})`);
  frame.src = cfg.tab.contentUrl;
})();
