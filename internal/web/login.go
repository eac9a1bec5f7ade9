package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/entra"
)

// loginTTL bounds how long a browser may take between /login and /callback.
const loginTTL = 10 * time.Minute

func (s *Server) redirectURI(appID string) string {
	return s.publicURL("/thirdparty/teams/" + appID + "/oauth2/callback")
}

// login starts the authorization-code + PKCE sign-in against the channel's
// own tenant. State, nonce and verifier are kept server side, single use.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channel(r)
	if err != nil {
		s.page(w, r, http.StatusNotFound, "message", pageData{Title: "Unknown app", Message: "No tamlink channel exists for this app id. Ask your administrator to add it."})
		return
	}
	if !s.loginStart.allow(r) {
		w.Header().Set("Retry-After", "10")
		s.page(w, r, http.StatusTooManyRequests, "message", pageData{Title: "Too many sign-ins", Message: "Too many sign-ins from this address. Wait a moment and try again."})
		return
	}
	q := r.URL.Query()
	// The state is bound to this browser by a cookie, so a callback URL
	// started by someone else cannot sign this browser in as them.
	binding, nonce := randomString(24), randomString(24)
	st := desk.LoginState{
		State: nonce + "." + bindingHash(binding), AppID: ch.AppID, Nonce: randomString(24), CodeVerifier: oauth2.GenerateVerifier(),
		ReturnTo: localPath(q.Get("return"), "/teams/"+ch.AppID+"/workbench"), Popup: q.Get("popup") == "1",
		CreatedAt: time.Now().UTC(),
	}
	st.ExpiresAt = st.CreatedAt.Add(loginTTL)
	if err := s.svc.Store.CreateLoginState(r.Context(), &st); err != nil {
		s.log.Error("store login state", "err", err)
		s.page(w, r, http.StatusInternalServerError, "message", pageData{Title: "Sign-in unavailable", Message: "Try again in a moment."})
		return
	}
	// One cookie per sign-in, so that two sign-ins in one browser (two tabs,
	// or Teams and a browser tab) do not overwrite each other's binding.
	http.SetCookie(w, &http.Cookie{Name: loginCookieName(nonce), Value: binding, Path: "/thirdparty/teams/", MaxAge: int(loginTTL.Seconds()),
		HttpOnly: true, Secure: s.public.Scheme == "https", SameSite: http.SameSiteLaxMode})
	cfg := s.cfg.Entra.AuthCodeConfig(ch.TenantID, ch.AppID, "", s.redirectURI(ch.AppID))
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.CodeVerifier), oauth2.SetAuthURLParam("nonce", st.Nonce), oauth2.SetAuthURLParam("response_mode", "query")}
	if p := q.Get("prompt"); p == "consent" || p == "login" || p == "select_account" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
	}
	if h := q.Get("login_hint"); h != "" && len(h) < 256 {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", h))
	}
	http.Redirect(w, r, cfg.AuthCodeURL(st.State, opts...), http.StatusFound)
}

// localPath keeps only same-origin absolute paths, so the return parameter
// cannot send a user elsewhere.
func localPath(p, def string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return def
	}
	if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
		return def
	}
	return p
}

// callbackResult is handed to callback.js, which passes the session to the tab.
type callbackResult struct {
	OK           bool      `json:"ok"`
	Session      string    `json:"session,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
	Error        string    `json:"error,omitempty"`
	Message      string    `json:"message,omitempty"`
	WorkbenchURL string    `json:"workbenchUrl"`
	TeamsJS      bool      `json:"teamsJs"`
	ValidOrigins []string  `json:"validOrigins"`
}

func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.page(w, r, http.StatusBadRequest, "message", pageData{Title: "Sign-in failed", Message: "The sign-in answer could not be read."})
		return
	}
	appID := strings.ToLower(r.PathValue("appId"))
	res := callbackResult{WorkbenchURL: "/teams/" + appID + "/workbench", TeamsJS: s.teamsJS != nil, ValidOrigins: s.validOrigins()}
	fail := func(status int, code, msg string) {
		res.Error, res.Message = code, msg
		s.page(w, r, status, "callback", pageData{Title: "Sign-in failed", Message: msg, Result: res})
	}
	ch, err := s.channel(r)
	if err != nil {
		fail(http.StatusNotFound, "UnknownApp", "No tamlink channel exists for this app id.")
		return
	}
	state := r.Form.Get("state")
	bound := false
	if id, h, _ := strings.Cut(state, "."); id != "" && h != "" {
		if c, err := r.Cookie(loginCookieName(id)); err == nil {
			bound = subtle.ConstantTimeCompare([]byte(h), []byte(bindingHash(c.Value))) == 1
			http.SetCookie(w, &http.Cookie{Name: c.Name, Path: "/thirdparty/teams/", MaxAge: -1, HttpOnly: true,
				Secure: s.public.Scheme == "https", SameSite: http.SameSiteLaxMode})
		}
	}
	if !bound {
		fail(http.StatusBadRequest, "StateDoesNotMatch", "This sign-in was started in another browser or has expired. Close this window and sign in again.")
		return
	}
	st, err := s.svc.Store.TakeLoginState(r.Context(), state)
	if err != nil || st.AppID != ch.AppID || time.Now().After(st.ExpiresAt) {
		fail(http.StatusBadRequest, "StateDoesNotMatch", "This sign-in has expired or was already used. Close this window and sign in again.")
		return
	}
	if st.ReturnTo != "" {
		res.WorkbenchURL = st.ReturnTo
	}
	if e := r.Form.Get("error"); e != "" {
		code := "UnexpectedFailure"
		if e == "access_denied" {
			code = "CancelledByUser"
		}
		// Only the error code and its AADSTS number are shown: the
		// description is text anyone can put in a URL.
		msg := "Microsoft sign-in did not complete (" + safeToken(e) + ")"
		if m := aadstsRE.FindString(r.Form.Get("error_description")); m != "" {
			msg += ", " + m
		}
		fail(http.StatusUnauthorized, code, msg+". Close this window and try again; if it keeps failing, tell your administrator.")
		return
	}
	secret, err := s.svc.ChannelSecret(ch)
	if err != nil {
		s.log.Error("open channel secret", "app_id", ch.AppID, "err", err)
		fail(http.StatusInternalServerError, "UnexpectedFailure", "The desk cannot sign you in right now.")
		return
	}
	cfg := s.cfg.Entra.AuthCodeConfig(ch.TenantID, ch.AppID, secret, s.redirectURI(ch.AppID))
	tok, err := s.cfg.Entra.Exchange(r.Context(), cfg, r.Form.Get("code"), st.CodeVerifier)
	if err != nil {
		var ae *entra.AADError
		msg := "Microsoft refused the sign-in code."
		if errors.As(err, &ae) {
			msg += " (" + ae.Error() + ")"
		}
		s.log.Warn("code exchange failed", "app_id", ch.AppID, "err", err)
		fail(http.StatusBadGateway, "UnexpectedFailure", msg)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	claims, err := s.cfg.Entra.VerifyIDToken(r.Context(), ch.TenantID, ch.AppID, rawID, st.Nonce)
	if err != nil {
		s.log.Warn("id token refused", "app_id", ch.AppID, "err", err)
		fail(http.StatusUnauthorized, "UnexpectedFailure", "The sign-in answer did not verify.")
		return
	}
	prof := desk.Profile{TenantID: claims.TenantID, ObjectID: claims.ObjectID, Name: claims.Name,
		Email: firstNonEmpty(claims.Email, claims.PreferredUsername), HomeTenantID: homeTenant(claims.IdP, claims.TenantID)}
	if me, err := s.cfg.Entra.Me(r.Context(), tok.AccessToken); err == nil {
		prof.Name = firstNonEmpty(me.DisplayName, prof.Name)
		prof.Email = firstNonEmpty(me.Mail, prof.Email, me.UserPrincipalName)
	} else {
		s.log.Warn("graph /me after sign-in failed; using id token claims", "app_id", ch.AppID, "err", err)
	}
	u, err := s.svc.SignIn(r.Context(), ch, prof)
	if err != nil {
		fail(http.StatusForbidden, "UnexpectedFailure", desk.ErrorMessage(err))
		return
	}
	sess, exp, err := s.startTabSession(r.Context(), ch, u)
	if err != nil {
		s.log.Error("start session", "err", err)
		fail(http.StatusInternalServerError, "UnexpectedFailure", "The desk cannot sign you in right now.")
		return
	}
	s.metrics.ssoTotal.WithLabelValues("ok_browser").Inc()
	s.log.Info("signed in", "app_id", ch.AppID, "user_id", u.ID, "via", "browser")
	res.OK, res.Session, res.ExpiresAt = true, sess, exp
	s.page(w, r, http.StatusOK, "callback", pageData{Title: "Signed in", Message: "You are signed in as " + u.Name + ". You can close this window.", Result: res})
}

const loginCookie = "tamlink_login"

// loginCookieName is the binding cookie of the sign-in whose state starts
// with id (base64url, so a valid cookie name).
func loginCookieName(id string) string {
	if len(id) > 16 {
		id = id[:16]
	}
	return loginCookie + "_" + id
}

func bindingHash(v string) string {
	h := sha256.Sum256([]byte("login-binding|" + v))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

var aadstsRE = regexp.MustCompile(`AADSTS[0-9]{4,8}`)

// safeToken keeps an OAuth error code to its documented alphabet.
func safeToken(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
