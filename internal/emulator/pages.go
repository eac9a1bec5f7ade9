package emulator

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
)

// Pages are deliberately plain: they exist to be clicked in a demo and driven
// by tests (every form is a normal POST; no script is needed except the
// form_post auto-submit). html/template escapes all data.

func pageHead(title string) string {
	return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + title + `</title>
<style>
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:48px auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 12px}
.emu{font-size:12px;color:#605e5c;border-left:3px solid #0067b8;padding-left:8px;margin-bottom:20px}
button{font:inherit;cursor:pointer}
.tile{display:block;width:100%;text-align:left;background:#fff;border:1px solid #e1dfdd;padding:12px;margin:6px 0}
.tile:hover,.tile.hint{border-color:#0067b8}
.tile small{display:block;color:#605e5c}
.primary{background:#0067b8;color:#fff;border:0;padding:8px 24px}
.secondary{background:#ccc;border:0;padding:8px 24px}
ul{padding-left:20px}
code{font-size:13px}
</style></head><body><main>`
}

const pageFoot = `</main></body></html>`

var (
	signInTmpl = template.Must(template.New("signin").Parse(pageHead("Sign in to your account") + `
<div class="emu">Microsoft Entra ID emulator · {{.TenantName}} ({{.TenantDomain}}) · no passwords</div>
<h1>Pick an account</h1>
<p>to continue to <strong>{{.AppName}}</strong></p>
{{range .Users}}
<form method="post" action="{{$.Action}}">
<input type="hidden" name="ctx" value="{{$.Ctx}}">
<input type="hidden" name="user" value="{{.ObjectID}}">
<button type="submit" class="tile{{if .Hint}} hint{{end}}" data-upn="{{.UPN}}">{{.DisplayName}}{{if .Guest}} (Guest){{end}}<small>{{.UPN}}</small></button>
</form>
{{else}}
<p>This directory has no users.</p>
{{end}}` + pageFoot))

	consentTmpl = template.Must(template.New("consent").Parse(pageHead("Permissions requested") + `
<div class="emu">Microsoft Entra ID emulator · {{.TenantName}}</div>
<div>{{.UserUPN}}</div>
<h1>Permissions requested</h1>
<p><strong>{{.AppName}}</strong><br><small>unverified · app ID {{.AppID}}</small></p>
<p>This app would like to:</p>
<ul>{{range .Permissions}}<li>{{.}}</li>{{end}}</ul>
<p>Accepting these permissions means that you allow this app to use your data as specified in their terms of service and privacy statement.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="ctx" value="{{.Ctx}}">
<button type="submit" name="decision" value="cancel" class="secondary">Cancel</button>
<button type="submit" name="decision" value="accept" class="primary">Accept</button>
</form>` + pageFoot))

	errorPageTmpl = template.Must(template.New("error").Parse(pageHead("Sign in to your account") + `
<div class="emu">Microsoft Entra ID emulator</div>
<h1>Sign in</h1>
<p>Sorry, but we're having trouble signing you in.</p>
<p id="error-message"><strong>{{.Code}}</strong>: {{.Message}}</p>
<p><small>Error: {{.Error}}<br>Request Id: {{.TraceID}}<br>Correlation Id: {{.CorrelationID}}<br>Timestamp: {{.Timestamp}}<br>More information: {{.ErrorURI}}</small></p>` + pageFoot))

	errorLookupTmpl = template.Must(template.New("lookup").Parse(pageHead("Error lookup") + `
<h1>AADSTS{{.Code}}</h1><p>{{.Text}}</p>` + pageFoot))

	signedOutTmpl = template.Must(template.New("signedout").Parse(pageHead("Sign in to your account") + `
<h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p>` + pageFoot))

	formPostTmpl = template.Must(template.New("formpost").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="POST" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form></body></html>`))
)

func (e *Emulator) renderPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		e.log.Error("emulator: rendering page", "template", t.Name(), "err", err)
		http.Error(w, "emulator: page rendering failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	// Entra's sign-in pages refuse to be framed; that is why a Teams tab
	// must use a popup for the fallback flow. Keep that behaviour.
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type userTile struct {
	ObjectID, DisplayName, UPN string
	Guest, Hint                bool
}

func (e *Emulator) renderSignIn(w http.ResponseWriter, ar *authRequest) {
	e.mu.RLock()
	hinted := findUserByHintLocked(ar.t, ar.loginHint)
	tiles := make([]userTile, 0, len(ar.t.userOrder))
	for _, oid := range ar.t.userOrder {
		u := ar.t.users[oid]
		tile := userTile{ObjectID: u.ObjectID, DisplayName: u.DisplayName, UPN: u.UserPrincipalName,
			Guest: u.isGuest(ar.t.ID), Hint: hinted != nil && hinted.ObjectID == u.ObjectID}
		if tile.Hint {
			tiles = append([]userTile{tile}, tiles...)
		} else {
			tiles = append(tiles, tile)
		}
	}
	data := map[string]any{
		"TenantName": ar.t.DisplayName, "TenantDomain": ar.t.Domain, "AppName": ar.app.DisplayName,
		"Users": tiles, "Ctx": ar.id, "Action": e.login + "/" + ar.t.ID + "/login",
	}
	e.mu.RUnlock()
	e.renderPage(w, http.StatusOK, signInTmpl, data)
}

// permissionText mirrors the wording of Entra's consent prompt for the
// common permissions.
var permissionText = map[string]string{
	"user.read":      "Sign you in and read your profile",
	"openid":         "Sign you in",
	"profile":        "View your basic profile",
	"email":          "View your email address",
	"offline_access": "Maintain access to data you have given it access to",
}

func (e *Emulator) renderConsent(w http.ResponseWriter, ar *authRequest) {
	e.mu.RLock()
	var perms []string
	resName := "Microsoft Graph"
	if ar.scopes.resource != nil && ar.scopes.resource.app != nil {
		resName = ar.scopes.resource.app.DisplayName
	}
	for _, name := range e.expandPerms(ar.app, ar.scopes) {
		if txt, ok := permissionText[strings.ToLower(name)]; ok && ar.scopes.resource.isGraph() {
			perms = append(perms, txt+" ("+name+")")
		} else {
			perms = append(perms, "Access "+resName+": "+name)
		}
	}
	for _, s := range ar.scopes.oidc {
		if s != "openid" {
			perms = append(perms, permissionText[s]+" ("+s+")")
		}
	}
	upn := ""
	if u, ok := ar.t.users[ar.userOID]; ok {
		upn = u.UserPrincipalName
	}
	data := map[string]any{
		"TenantName": ar.t.DisplayName, "AppName": ar.app.DisplayName, "AppID": ar.app.AppID,
		"UserUPN": upn, "Permissions": perms, "Ctx": ar.id, "Action": e.login + "/" + ar.t.ID + "/consent",
	}
	e.mu.RUnlock()
	e.renderPage(w, http.StatusOK, consentTmpl, data)
}
