// tamlink sign-in callback: hands the session (or the failure) back to the
// workbench that started the sign-in. Three ways, tried in this order:
//   1. inside a Teams authentication window: authentication.notifySuccess /
//      notifyFailure (Teams resolves the tab's authenticate() promise);
//   2. a browser popup: postMessage to the opener, restricted to our origin so
//      the session never reaches another site, then close;
//   3. a full-page sign-in: go back to the workbench with #session=… (a
//      fragment is never sent to a server or logged in access logs).
"use strict";

(() => {
  const TEAMS_INIT_TIMEOUT_MS = 1500;

  function readResult() {
    const node = document.getElementById("tl-result");
    if (!node) return null;
    try {
      return JSON.parse(node.textContent || "null");
    } catch (_) {
      return null;
    }
  }

  function statusNode() {
    let p = document.getElementById("status-message");
    if (!p) {
      p = document.createElement("p");
      p.id = "status-message";
      (document.querySelector("main") || document.body).append(p);
    }
    return p;
  }

  function show(text) {
    if (text) statusNode().textContent = text;
  }

  function setState(s) {
    document.body.dataset.state = s;
  }

  function withTimeout(p, ms) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("timed out")), ms);
    });
    return Promise.race([Promise.resolve(p), t]).finally(() => clearTimeout(timer));
  }

  // inTeams initialises the SDK; only a Teams authentication window gets an
  // answer (an ordinary popup's opener does not speak the protocol), so a
  // short time-out sends the other cases to the fallbacks quickly.
  async function inTeams(res) {
    const mt = window.microsoftTeams;
    if (!mt || !mt.app || typeof mt.app.initialize !== "function" || !mt.authentication) return false;
    const origins = Array.isArray(res.validOrigins) && res.validOrigins.length ? res.validOrigins : undefined;
    try {
      await withTimeout(mt.app.initialize(origins), TEAMS_INIT_TIMEOUT_MS);
      return true;
    } catch (_) {
      return false;
    }
  }

  function opener() {
    try {
      return window.opener && !window.opener.closed ? window.opener : null;
    } catch (_) {
      return null;
    }
  }

  function backLink(res) {
    if (!res.workbenchUrl) return;
    const a = document.createElement("a");
    a.href = res.workbenchUrl;
    a.textContent = "Back to the service desk";
    a.className = "back-link";
    const p = document.createElement("p");
    p.append(a);
    statusNode().after(p);
  }

  function tryClose() {
    try {
      window.close();
    } catch (_) { /* a window not opened by script may refuse; the text says so */ }
  }

  async function succeed(res) {
    if (await inTeams(res)) {
      window.microsoftTeams.authentication.notifySuccess(res.session);
      setState("done");
      return;
    }
    const w = opener();
    if (w) {
      w.postMessage({ type: "tamlink-login", session: res.session, expiresAt: res.expiresAt }, location.origin);
      setState("done");
      tryClose();
      return;
    }
    setState("redirecting");
    const target = (res.workbenchUrl || "/") + "#session=" + encodeURIComponent(res.session);
    location.replace(target); // replace: the callback URL must not stay in history
  }

  async function fail(res) {
    const error = res.error || "UnexpectedFailure";
    show(res.message || "Sign-in failed.");
    setState("error");
    if (await inTeams(res)) {
      window.microsoftTeams.authentication.notifyFailure(error);
      return;
    }
    const w = opener();
    if (w) {
      // The workbench shows the message; this window has nothing more to do.
      w.postMessage({ type: "tamlink-login", error, message: res.message || "" }, location.origin);
      tryClose();
      return;
    }
    backLink(res);
  }

  function main() {
    const res = readResult();
    if (!res) {
      setState("error");
      show("The sign-in answer could not be read. Close this window and sign in again.");
      return;
    }
    setState("working");
    if (res.ok && typeof res.session === "string" && res.session) {
      succeed(res);
    } else {
      fail(res);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", main, { once: true });
  } else {
    main();
  }
})();
