package emulator

// The OAuth 2.0 device authorization grant as Entra serves it:
// POST /{tenant}/oauth2/v2.0/devicecode hands out a user code, the token
// endpoint answers authorization_pending until somebody approves the code
// (at the verification page, /login/device, or through Approve in tests),
// then issues a delegated Graph token for the public client. This is how
// an admin signs `tamlink setup` and `tamlink doctor --admin` in.

import (
	"crypto/rand"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GraphCommandLineToolsClientID is the Microsoft Graph Command Line Tools
// public client, the default client of tamlink's admin sign-in.
const GraphCommandLineToolsClientID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"

// firstPartyPublicClients are Microsoft public clients that exist in every
// tenant without a registration.
var firstPartyPublicClients = map[string]string{
	GraphCommandLineToolsClientID:          "Microsoft Graph Command Line Tools",
	"04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
	"1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
}

const (
	grantDeviceCode    = "urn:ietf:params:oauth:grant-type:device_code"
	deviceCodeLifetime = 15 * time.Minute
	deviceCodeInterval = 5 // seconds, Entra's polling interval
)

type deviceAuth struct {
	deviceCode, userCode string
	tenantID             string
	clientID, clientName string
	scope                string
	expires              time.Time
	approvedBy           string // user object ID
	declined             bool
}

// DeviceCode is a pending device sign-in.
type DeviceCode struct {
	UserCode string
	TenantID string
	ClientID string
	Scope    string
	Expires  time.Time
}

// deviceCodeRoutes registers the device-code endpoints and the
// verification page.
func (e *Emulator) deviceCodeRoutes(m *http.ServeMux) {
	m.HandleFunc("POST /login/{tenant}/oauth2/v2.0/devicecode", e.handleDeviceCode)
	// More specific than the token endpoint's catch-all route: device_code
	// grants are served here, every other grant is handed to handleToken.
	m.HandleFunc("POST /login/{tenant}/oauth2/v2.0/token", e.handleTokenOrDevice)
	m.HandleFunc("GET /login/device", e.handleDevicePage)
	m.HandleFunc("POST /login/device", e.handleDeviceDecision)
}

// VerificationURL is where a person enters a device code (Microsoft's
// microsoft.com/devicelogin).
func (e *Emulator) VerificationURL() string { return e.login + "/device" }

const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"

func newUserCode() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b)
}

func (e *Emulator) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	if !e.parseTokenForm(w, r) {
		return
	}
	f := r.PostForm
	seg := r.PathValue("tenant")
	e.mu.RLock()
	t, kind, ok := e.resolveTenantLocked(seg)
	e.mu.RUnlock()
	switch {
	case !ok:
		e.writeAADError(w, r, errTenantNotFound(seg, http.StatusBadRequest, "invalid_request"))
		return
	case kind != tenantSpecific:
		e.writeAADError(w, r, newErr(http.StatusBadRequest, "invalid_request", 90023,
			"The emulator serves the device code flow at tenant-specific endpoints only; use /{tenant-id}/oauth2/v2.0/devicecode."))
		return
	}
	clientID := lower(f.Get("client_id"))
	if clientID == "" {
		e.writeAADError(w, r, errMissingParam("client_id"))
		return
	}
	if strings.TrimSpace(f.Get("scope")) == "" {
		e.writeAADError(w, r, errMissingParam("scope"))
		return
	}
	e.mu.Lock()
	name, ae := e.publicClientLocked(t, clientID)
	if ae == nil {
		_, ae = parseScopes(t, f.Get("scope"))
	}
	var d *deviceAuth
	if ae == nil {
		if e.graphx.devices == nil {
			e.graphx.devices, e.graphx.userCodes = map[string]*deviceAuth{}, map[string]string{}
		}
		for code, old := range e.graphx.devices { // forget codes nobody can use any more
			if e.now().After(old.expires.Add(time.Hour)) {
				delete(e.graphx.devices, code)
				delete(e.graphx.userCodes, old.userCode)
			}
		}
		d = &deviceAuth{deviceCode: "DAQABIQEAAA" + randB64(96), userCode: newUserCode(), tenantID: t.ID,
			clientID: clientID, clientName: name, scope: f.Get("scope"), expires: e.now().Add(deviceCodeLifetime)}
		e.graphx.devices[d.deviceCode] = d
		e.graphx.userCodes[d.userCode] = d.deviceCode
	}
	e.mu.Unlock()
	if ae != nil {
		e.writeAADError(w, r, ae)
		return
	}
	verify := e.VerificationURL()
	e.log.Info("emulator: device code issued", "tenant", t.ID, "client", clientID)
	e.writeTokenJSON(w, r, map[string]any{
		"user_code":        d.userCode,
		"device_code":      d.deviceCode,
		"verification_uri": verify,
		"expires_in":       int(deviceCodeLifetime / time.Second),
		"interval":         deviceCodeInterval,
		"message":          "To sign in, use a web browser to open the page " + verify + " and enter the code " + d.userCode + " to authenticate.",
	})
}

// publicClientLocked accepts Microsoft's first-party public clients and
// the tenant's apps that allow public client flows.
func (e *Emulator) publicClientLocked(t *tenantState, clientID string) (string, *aadError) {
	if name, ok := firstPartyPublicClients[clientID]; ok {
		return name, nil
	}
	a, ok := t.apps[clientID]
	if !ok {
		return "", errAppNotFound(clientID, t.DisplayName)
	}
	if !a.PublicClient {
		return "", newErr(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	return a.DisplayName, nil
}

// handleTokenOrDevice serves the device_code grant and hands every other
// token request to the token endpoint.
func (e *Emulator) handleTokenOrDevice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != grantDeviceCode {
		e.handleToken(w, r)
		return
	}
	f := r.PostForm
	seg := r.PathValue("tenant")
	e.mu.Lock()
	t, _, ok := e.resolveTenantLocked(seg)
	code := f.Get("device_code")
	d := e.graphx.devices[code]
	var ae *aadError
	switch {
	case !ok:
		ae = errTenantNotFound(seg, http.StatusBadRequest, "invalid_request")
	case f.Get("client_id") == "":
		ae = errMissingParam("client_id")
	case code == "":
		ae = errMissingParam("device_code")
	case d == nil || d.tenantID != t.ID || d.clientID != lower(f.Get("client_id")):
		ae = newErr(http.StatusBadRequest, "bad_verification_code", 9002313,
			"The device_code sent to the token endpoint wasn't recognized.")
	case e.now().After(d.expires):
		ae = newErr(http.StatusBadRequest, "expired_token", 70020,
			"The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
	case d.declined:
		ae = newErr(http.StatusBadRequest, "authorization_declined", 70000, "The end user denied the authorization request.")
	case d.approvedBy == "":
		ae = newErr(http.StatusBadRequest, "authorization_pending", 70016,
			"OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
	}
	var (
		user User
		set  *scopeSet
	)
	if ae == nil {
		if u, ok := t.users[d.approvedBy]; !ok {
			ae = newErr(http.StatusBadRequest, "invalid_grant", 50034, "The user account does not exist in the %s directory.", t.ID)
		} else {
			user = *u
			set, ae = parseScopes(t, d.scope)
		}
	}
	if ae == nil {
		delete(e.graphx.devices, d.deviceCode)
		delete(e.graphx.userCodes, d.userCode)
	}
	e.mu.Unlock()
	if ae != nil {
		e.writeAADError(w, r, ae)
		return
	}
	// The admin consented on the sign-in page: the token carries the
	// permissions asked for (named ones; "/.default" grants nothing more).
	client := &appState{App: App{AppID: d.clientID, DisplayName: d.clientName}}
	tc := &tokenCtx{w: w, r: r, f: f, t: t, client: client}
	e.writeUserTokens(tc, user, set, slices.Clone(set.perms), "", true, false)
}

// Approve signs userOID in for a pending device code, as the person at the
// verification page would.
func (e *Emulator) Approve(userCode, userOID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.deviceLocked(userCode)
	if err != nil {
		return err
	}
	if _, ok := e.tenants[d.tenantID].users[lower(userOID)]; !ok {
		return fmt.Errorf("emulator: user %s not found in tenant %s", userOID, d.tenantID)
	}
	d.approvedBy = lower(userOID)
	return nil
}

// Deny declines a pending device code.
func (e *Emulator) Deny(userCode string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.deviceLocked(userCode)
	if err != nil {
		return err
	}
	d.declined = true
	return nil
}

// DeviceCodes lists the device sign-ins waiting for a person.
func (e *Emulator) DeviceCodes() []DeviceCode {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []DeviceCode
	for _, d := range e.graphx.devices {
		if d.approvedBy == "" && !d.declined && e.now().Before(d.expires) {
			out = append(out, DeviceCode{UserCode: d.userCode, TenantID: d.tenantID, ClientID: d.clientID, Scope: d.scope, Expires: d.expires})
		}
	}
	slices.SortFunc(out, func(a, b DeviceCode) int { return a.Expires.Compare(b.Expires) })
	return out
}

func (e *Emulator) deviceLocked(userCode string) (*deviceAuth, error) {
	code := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(userCode), "-", ""))
	d := e.graphx.devices[e.graphx.userCodes[code]]
	switch {
	case d == nil:
		return nil, fmt.Errorf("the code %s is not valid", userCode)
	case e.now().After(d.expires):
		return nil, fmt.Errorf("the code %s has expired", userCode)
	case d.approvedBy != "" || d.declined:
		return nil, fmt.Errorf("the code %s was already used", userCode)
	}
	return d, nil
}

var (
	deviceEnterTmpl = template.Must(template.New("device").Parse(pageHead("Enter code") + `
<div class="emu">Microsoft Entra ID emulator · device sign-in</div>
<h1>Enter code</h1>
<p>Enter the code displayed on your app or device.</p>
{{if .Error}}<p id="error-message"><strong>{{.Error}}</strong></p>{{end}}
<form method="get" action="{{.Action}}">
<input name="code" autocomplete="off" autofocus placeholder="Code" value="{{.Code}}">
<button type="submit" class="primary">Next</button>
</form>` + pageFoot))

	devicePickTmpl = template.Must(template.New("devicepick").Parse(pageHead("Pick an account") + `
<div class="emu">Microsoft Entra ID emulator · {{.TenantName}} · no passwords</div>
<h1>Pick an account</h1>
<p>to sign in to <strong>{{.ClientName}}</strong> on another device. It asks for:</p>
<ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>
{{range .Users}}
<form method="post" action="{{$.Action}}">
<input type="hidden" name="code" value="{{$.Code}}">
<input type="hidden" name="user" value="{{.ObjectID}}">
<button type="submit" name="decision" value="approve" class="tile" data-upn="{{.UPN}}">{{.DisplayName}}<small>{{.UPN}}</small></button>
</form>
{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="code" value="{{.Code}}">
<button type="submit" name="decision" value="deny" class="secondary">Cancel</button>
</form>` + pageFoot))

	deviceDoneTmpl = template.Must(template.New("devicedone").Parse(pageHead("Signed in") + `
<div class="emu">Microsoft Entra ID emulator · device sign-in</div>
<h1>{{.Title}}</h1><p>{{.Text}}</p>` + pageFoot))
)

func (e *Emulator) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimSpace(r.URL.Query().Get("code"))
	action := e.login + "/device"
	if code == "" {
		e.renderPage(w, http.StatusOK, deviceEnterTmpl, map[string]any{"Action": action})
		return
	}
	e.mu.RLock()
	d, err := e.deviceLocked(code)
	if err != nil {
		e.mu.RUnlock()
		e.renderPage(w, http.StatusBadRequest, deviceEnterTmpl, map[string]any{"Action": action, "Code": code,
			"Error": err.Error()})
		return
	}
	t := e.tenants[d.tenantID]
	var tiles []userTile
	for _, oid := range t.userOrder {
		u := t.users[oid]
		tiles = append(tiles, userTile{ObjectID: u.ObjectID, DisplayName: u.DisplayName, UPN: u.UserPrincipalName})
	}
	data := map[string]any{"Action": action, "Code": d.userCode, "TenantName": t.DisplayName, "ClientName": d.clientName,
		"Scopes": strings.Fields(d.scope), "Users": tiles}
	e.mu.RUnlock()
	e.renderPage(w, http.StatusOK, devicePickTmpl, data)
}

func (e *Emulator) handleDeviceDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	code := r.PostForm.Get("code")
	var err error
	title, text := "You're signed in", "You have signed in on your device. You may now close this window."
	if r.PostForm.Get("decision") == "approve" {
		err = e.Approve(code, r.PostForm.Get("user"))
	} else {
		err = e.Deny(code)
		title, text = "Sign-in cancelled", "The device will not be signed in. You may now close this window."
	}
	if err != nil {
		e.renderPage(w, http.StatusBadRequest, deviceEnterTmpl, map[string]any{"Action": e.login + "/device", "Code": code,
			"Error": err.Error()})
		return
	}
	e.renderPage(w, http.StatusOK, deviceDoneTmpl, map[string]any{"Title": title, "Text": text})
}
