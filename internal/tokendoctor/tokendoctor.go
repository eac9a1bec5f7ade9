// Package tokendoctor explains a Teams SSO token: what it says, whether it
// would pass each of the checks tamlink's server makes, and for each check it
// fails the likely cause and fix in the terms of the customer's setup (the
// Azure app registration, the Teams app manifest, the channel). It backs
// `tamlink doctor token`.
//
// The checks are made one by one, so that every fault is named, not only the
// first; when the inputs are complete (tenant and app), tamlink's own
// verifier (ssotoken) is asked too, and its verdict is one more check, so
// the doctor can never pass a token the server refuses.
package tokendoctor

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/ssotoken"
)

// Status is a check's outcome.
type Status string

// Outcomes. Only StatusFail makes a report fail; StatusWarn points at
// something unusual that tamlink accepts, StatusSkip at a check the inputs
// do not allow (e.g. no tenant given).
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusWarn Status = "warn"
	StatusSkip Status = "skip"
)

// Check is one check and its outcome.
type Check struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	Detail string `json:"detail"`          // what was found
	Cause  string `json:"cause,omitempty"` // for failures and warnings: the likely cause
	Fix    string `json:"fix,omitempty"`   // and what to do about it
}

// Report is the outcome of Diagnose.
type Report struct {
	At     time.Time      `json:"at"`
	Header map[string]any `json:"header,omitempty"`
	Claims map[string]any `json:"claims,omitempty"`
	Checks []Check        `json:"checks"`
	OK     bool           `json:"ok"` // every check that applies passed
}

// Input is a token and what to check it against. Empty expectations skip
// their checks: with only keys and a time, signature and time are checked.
type Input struct {
	Token string
	// Keys is a JWKS document to verify the signature with. When nil, the
	// keys are fetched with FetchKeys from the tenant's key set URL.
	Keys      []byte
	KeysName  string // where Keys came from, for messages
	FetchKeys func(ctx context.Context, url string) ([]byte, error)
	// LoginURL and STSURL are the identity platform's bases (issuers and
	// key URLs); empty means Microsoft's public cloud.
	LoginURL, STSURL string
	At               time.Time     // the clock; zero is now
	Leeway           time.Duration // clock skew allowed; zero is the server's 2 minutes

	TenantID string // the channel's tenant
	AppID    string // the channel's app (client) id
	Domain   string // tamlink's public host: the Application ID URI is api://{Domain}/{AppID}
	Scope    string // the scope required; default access_as_user when AppID is set
}

// Teams and Office clients that obtain tokens for a tab app (the guide's
// pre-authorized client ids).
var teamsClients = map[string]string{
	"1fec8e78-bce4-4aaf-ab1b-5451cc387264": "Teams desktop and mobile",
	"5e3ce6c0-2b1f-4285-8d4b-75ee78787346": "Teams web",
	"4765445b-32c6-49b0-83e6-1d93765276ca": "Microsoft 365 web",
	"0ec893e0-5785-4de6-99da-4ed124e5296c": "Microsoft 365 desktop",
	"d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft 365 mobile and Outlook desktop",
	"bc59ab01-8403-45c6-8796-ac3ef710b3e3": "Outlook web",
	"27922004-5251-4030-b22d-91ecd9a37ea4": "Outlook mobile",
	"00000002-0000-0ff1-ce00-000000000000": "Office 365 Exchange Online",
	"4345a7b9-9a63-4910-a426-35363201d503": "Microsoft 365 app",
}

const graphAppID = "00000003-0000-0000-c000-000000000000"

// defaultLeeway is the server's clock-skew allowance (ssotoken's default).
const defaultLeeway = 2 * time.Minute

// Diagnose checks in.Token. It never returns an error: what goes wrong is a
// failed check.
func Diagnose(ctx context.Context, in Input) Report {
	d := &doctor{in: in}
	d.run(ctx)
	r := Report{At: d.at, Header: d.header, Claims: d.claims, Checks: d.checks, OK: true}
	for _, c := range d.checks {
		if c.Status == StatusFail {
			r.OK = false
		}
	}
	return r
}

type doctor struct {
	in     Input
	at     time.Time
	leeway time.Duration
	login  string
	sts    string
	header map[string]any
	claims map[string]any
	checks []Check
	key    *jwk // the signing key, once found
}

func (d *doctor) add(c Check) { d.checks = append(d.checks, c) }

func (d *doctor) str(name string) string {
	s, _ := d.claims[name].(string)
	return s
}

func (d *doctor) run(ctx context.Context) {
	in := d.in
	d.at = in.At
	if d.at.IsZero() {
		d.at = time.Now()
	}
	d.at = d.at.UTC()
	d.leeway = in.Leeway
	if d.leeway == 0 {
		d.leeway = defaultLeeway
	}
	d.login = strings.TrimRight(in.LoginURL, "/")
	if d.login == "" {
		d.login = ssotoken.DefaultLoginURL
	}
	d.sts = strings.TrimRight(in.STSURL, "/")
	if d.sts == "" {
		d.sts = ssotoken.DefaultSTSURL
	}
	if in.AppID != "" && in.Scope == "" {
		d.in.Scope = ssotoken.DefaultScope
	}
	tok := strings.TrimSpace(in.Token)
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	d.in.Token = tok

	if !d.checkFormat() {
		return
	}
	d.checkSignature(ctx)
	d.checkTime()
	d.checkVersion()
	d.checkTenant()
	d.checkIssuer()
	d.checkAudience()
	d.checkScope()
	d.checkUser()
	d.checkClient()
	d.checkServer(ctx)
}

// ------------------------------------------------------------------ format

func (d *doctor) checkFormat() bool {
	c := Check{ID: "format", Title: "Token format"}
	tok := d.in.Token
	parts := strings.Split(tok, ".")
	switch {
	case tok == "":
		c.Status, c.Detail = StatusFail, "no token given"
		c.Cause = "the token was empty: Teams returned an empty string, or nothing was pasted"
		c.Fix = "pass the token as the argument or on standard input, exactly as authentication.getAuthToken() returned it"
	case len(parts) != 3:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("%d dot-separated parts, a JWT has 3", len(parts))
		c.Cause = "this is not a JWT: it was copied incompletely, or it is something else (a tamlink session, an error text, an encrypted token)"
		c.Fix = "copy the whole token as getAuthToken() returned it (three base64url parts separated by dots)"
	default:
		h, cl, err := ssotoken.Decode(tok)
		if err != nil {
			c.Status, c.Detail = StatusFail, "the header or claims do not decode as base64url JSON: "+err.Error()
			c.Cause = "the token was altered or truncated while being copied"
			c.Fix = "copy the token again, in full"
		} else {
			d.header, d.claims = h, cl
			c.Status, c.Detail = StatusPass, fmt.Sprintf("a JWT of %d bytes with a JSON header and claims", len(tok))
		}
	}
	d.add(c)
	return c.Status == StatusPass
}

// checkVersion applies when checking for a channel: the server takes v1
// and v2 access tokens only.
func (d *doctor) checkVersion() {
	if d.in.TenantID == "" && d.in.AppID == "" {
		d.add(skip("version", "Token version", "no channel given (--app, --tenant)"))
		return
	}
	c := Check{ID: "version", Title: "Token version"}
	switch ver := d.str("ver"); ver {
	case "2.0":
		c.Status, c.Detail = StatusPass, "v2.0 access token"
	case "1.0":
		c.Status, c.Detail = StatusWarn, "v1.0 access token (tamlink accepts it)"
		c.Cause = "the app registration's manifest has accessTokenAcceptedVersion null or 1"
		c.Fix = "the guide sets accessTokenAcceptedVersion to 2 (App registrations → Manifest); v2 tokens carry the app id as their audience"
	default:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("ver is %q; Entra access tokens say 1.0 or 2.0", ver)
		c.Cause = "this is not an Entra ID access token (an ID token, or a token of another identity provider)"
		c.Fix = "send the access token getAuthToken() returns"
	}
	d.add(c)
}

// ---------------------------------------------------------------- signature

type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer"`
	pub    *rsa.PublicKey
}

func parseKeys(data []byte) ([]*jwk, error) {
	var doc struct {
		Keys []*jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	var out []*jwk
	for _, k := range doc.Keys {
		if k == nil || k.Kty != "RSA" || k.Kid == "" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		ev := 0
		for _, b := range e {
			ev = ev<<8 | int(b)
		}
		k.pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("the key set holds no RSA signing keys")
	}
	return out, nil
}

// signedLikeEntra checks the header: what Entra signs its access tokens
// with, and nothing a verifier must refuse.
func (d *doctor) signedLikeEntra(c *Check) bool {
	alg, _ := d.header["alg"].(string)
	kid, _ := d.header["kid"].(string)
	_, crit := d.header["crit"]
	_, nonce := d.header["nonce"]
	switch {
	case nonce:
		c.Status, c.Detail = StatusFail, "the header carries a nonce: this is a Microsoft Graph access token, which only Graph can verify"
		c.Cause = "a token for Microsoft Graph was sent instead of the Teams SSO token for tamlink"
		c.Fix = "send the token getAuthToken() returns for the tab, not one obtained for Graph"
	case alg != "RS256":
		c.Status, c.Detail = StatusFail, fmt.Sprintf("alg is %q; Entra signs access tokens with RS256", alg)
		c.Cause = "the token was not issued by Microsoft Entra ID (a test or forged token)"
		c.Fix = "use a token Teams obtained from Entra ID"
	case crit:
		c.Status, c.Detail = StatusFail, "the header has a crit parameter, which Entra never sets"
		c.Cause = "the token was not issued by Microsoft Entra ID"
		c.Fix = "use a token Teams obtained from Entra ID"
	case kid == "":
		c.Status, c.Detail = StatusFail, "the header names no signing key (kid)"
		c.Cause = "the token was not issued by Microsoft Entra ID"
		c.Fix = "use a token Teams obtained from Entra ID"
	default:
		return true
	}
	return false
}

// keysURL is where the server fetches the tenant's keys for this token's
// version (as ssotoken does).
func (d *doctor) keysURL() string {
	tenant := d.in.TenantID
	if tenant == "" {
		tenant = d.str("tid")
	}
	if tenant == "" {
		tenant = "common"
	}
	if d.str("ver") == "1.0" {
		return d.login + "/" + url.PathEscape(tenant) + "/discovery/keys"
	}
	return d.login + "/" + url.PathEscape(tenant) + "/discovery/v2.0/keys"
}

func (d *doctor) checkSignature(ctx context.Context) {
	c := Check{ID: "signature", Title: "Signature"}
	defer func() { d.add(c) }()
	if !d.signedLikeEntra(&c) {
		return
	}
	src := d.in.KeysName
	data := d.in.Keys
	if data == nil {
		u := d.keysURL()
		src = u
		if d.in.FetchKeys == nil {
			c.Status, c.Detail = StatusSkip, "no key set given"
			return
		}
		var err error
		if data, err = d.in.FetchKeys(ctx, u); err != nil {
			c.Status, c.Detail = StatusFail, fmt.Sprintf("the key set %s could not be fetched: %v", u, err)
			c.Cause = "the identity platform is unreachable from here (for a demo data dir: the demo is not running)"
			c.Fix = "run the check where the server runs, or pass a saved key set with --jwks FILE"
			return
		}
	}
	if src == "" {
		src = "the key set"
	}
	keys, err := parseKeys(data)
	if err != nil {
		c.Status, c.Detail = StatusFail, fmt.Sprintf("%s: %v", src, err)
		c.Cause = "the key set given is not Microsoft's JWKS document"
		c.Fix = "pass the JSON of the tenant's discovery/v2.0/keys (or discovery/keys for v1 tokens)"
		return
	}
	kid, _ := d.header["kid"].(string)
	i := slices.IndexFunc(keys, func(k *jwk) bool { return k.Kid == kid })
	if i < 0 {
		c.Status, c.Detail = StatusFail, fmt.Sprintf("key id %s is not among the %d keys of %s", kid, len(keys), src)
		c.Cause = "the token was signed by another identity platform (another cloud, or the emulator of another tamlink run — the demo makes a new key each start), or the key set is older than the token"
		c.Fix = "check the token against the key set of the platform that issued it (fetch a current one); a demo token only verifies while that demo runs"
		return
	}
	k := keys[i]
	tok := d.in.Token
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		c.Status, c.Detail = StatusFail, "the signature part is not base64url"
		c.Cause = "the token was altered or truncated while being copied"
		c.Fix = "copy the token again, in full"
		return
	}
	sum := sha256.Sum256([]byte(tok[:dot]))
	if err := rsa.VerifyPKCS1v15(k.pub, crypto.SHA256, sum[:], sig); err != nil {
		c.Status, c.Detail = StatusFail, fmt.Sprintf("the RS256 signature does not verify with key %s of %s", kid, src)
		c.Cause = "the token was changed after it was issued (edited claims, or a truncated copy)"
		c.Fix = "use the token exactly as Teams returned it"
		return
	}
	d.key = k
	c.Status, c.Detail = StatusPass, fmt.Sprintf("RS256 signature verifies with key %s of %s (%d-bit RSA)", kid, src, k.pub.N.BitLen())
}

// --------------------------------------------------------------------- time

func (d *doctor) date(name string) (time.Time, bool) {
	v, ok := d.claims[name]
	if !ok {
		return time.Time{}, false
	}
	var n int64
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, false
		}
		n = int64(f)
	case float64:
		n = int64(x)
	default:
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

func (d *doctor) checkTime() {
	c := Check{ID: "time", Title: "Validity period"}
	defer func() { d.add(c) }()
	exp, hasExp := d.date("exp")
	nbf, hasNbf := d.date("nbf")
	iat, hasIat := d.date("iat")
	at := d.at.Format(time.RFC3339)
	switch {
	case !hasExp:
		c.Status, c.Detail = StatusFail, "the token has no expiry (exp)"
		c.Cause = "this is not an Entra ID access token"
		c.Fix = "send the access token getAuthToken() returns"
	case d.at.After(exp.Add(d.leeway)):
		c.Status, c.Detail = StatusFail, fmt.Sprintf("expired at %s, %s before %s", exp.Format(time.RFC3339), roundDur(d.at.Sub(exp)), at)
		c.Cause = "the token is old: Teams hands out a cached token until shortly before it expires, so an expired one was kept and sent again later (or this computer's clock is ahead)"
		c.Fix = "get a fresh token (reload the tab) and check that the server's clock is right"
	case hasNbf && d.at.Add(d.leeway).Before(nbf):
		c.Status, c.Detail = StatusFail, fmt.Sprintf("not valid before %s, %s after %s", nbf.Format(time.RFC3339), roundDur(nbf.Sub(d.at)), at)
		c.Cause = "the server's clock is behind the identity platform's"
		c.Fix = "synchronise the server's clock (NTP)"
	case hasIat && d.at.Add(d.leeway).Before(iat):
		c.Status, c.Detail = StatusFail, fmt.Sprintf("issued at %s, %s after %s", iat.Format(time.RFC3339), roundDur(iat.Sub(d.at)), at)
		c.Cause = "the server's clock is behind the identity platform's"
		c.Fix = "synchronise the server's clock (NTP)"
	default:
		from := "?"
		if hasNbf {
			from = nbf.Format(time.RFC3339)
		}
		c.Status, c.Detail = StatusPass, fmt.Sprintf("valid from %s to %s; %s is inside (%s left)", from, exp.Format(time.RFC3339), at, roundDur(exp.Sub(d.at)))
	}
}

func roundDur(x time.Duration) string {
	if x < 0 {
		x = -x
	}
	switch {
	case x >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(x.Hours()/24))
	case x >= time.Hour:
		return x.Round(time.Minute).String()
	default:
		return x.Round(time.Second).String()
	}
}

// ---------------------------------------------------------- tenant, issuer

func skip(id, title, why string) Check {
	return Check{ID: id, Title: title, Status: StatusSkip, Detail: why}
}

func (d *doctor) checkTenant() {
	const id, title = "tenant", "Tenant"
	if d.in.TenantID == "" {
		d.add(skip(id, title, "no channel tenant given (--tenant, or --data with --app)"))
		return
	}
	c := Check{ID: id, Title: title}
	tid := d.str("tid")
	want := strings.ToLower(d.in.TenantID)
	switch {
	case strings.EqualFold(tid, want):
		c.Status, c.Detail = StatusPass, "tid is the channel's tenant "+want
	case strings.EqualFold(tid, ssotoken.PersonalAccountsTenant):
		c.Status, c.Detail = StatusFail, "tid is the personal Microsoft accounts tenant"
		c.Cause = "the user is signed in to Teams with a personal Microsoft account (Teams for personal use)"
		c.Fix = "sign in to Teams with the work account of the customer's organisation"
	case tid == "":
		c.Status, c.Detail = StatusFail, "the token has no tid"
		c.Cause = "this is not an Entra ID access token of an organisation"
		c.Fix = "send the access token getAuthToken() returns"
	default:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("tid is %s, the channel's tenant is %s", tid, want)
		c.Cause = "the user opened the app signed in to another organisation (in Teams, a guest must switch to the customer's organisation first), or the channel's tenantId is wrong"
		c.Fix = "compare the channel's tenantId with the Directory (tenant) ID on the app registration's Overview page; if they differ, add the channel again with the right one"
	}
	d.add(c)
}

func (d *doctor) checkIssuer() {
	const id, title = "issuer", "Issuer"
	tid := d.str("tid")
	if d.in.TenantID == "" {
		d.add(skip(id, title, "no channel tenant given"))
		return
	}
	c := Check{ID: id, Title: title}
	iss := d.str("iss")
	want := d.login + "/" + tid + "/v2.0"
	if d.str("ver") == "1.0" {
		want = d.sts + "/" + tid + "/"
	}
	keyIss := ""
	if d.key != nil && d.key.Issuer != "" {
		keyIss = strings.ReplaceAll(d.key.Issuer, "{tenantid}", tid)
	}
	switch {
	case iss != want:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("iss is %q; for a v%s token of tenant %s it must be %q", iss, strings.TrimSuffix(d.str("ver"), ".0"), tid, want)
		c.Cause = "the token was issued by another identity platform than the one this server uses (a national cloud, or the emulator vs Microsoft), or its version and issuer disagree"
		c.Fix = "make sure the server and Teams use the same cloud (TAMLINK_LOGIN_URL / TAMLINK_STS_URL only for the emulator)"
	case keyIss != "" && keyIss != iss:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("the signing key is for issuer %q, the token says %q", keyIss, iss)
		c.Cause = "the token's issuer does not match its signing key's: it was not issued for this tenant"
		c.Fix = "use a token of the channel's tenant"
	default:
		c.Status, c.Detail = StatusPass, "iss is "+iss
	}
	d.add(c)
}

// ------------------------------------------------------------ audience etc.

// audiences reads aud as a string or an array.
func (d *doctor) audiences() []string {
	switch a := d.claims["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (d *doctor) checkAudience() {
	const id, title = "audience", "Audience"
	if d.in.AppID == "" {
		d.add(skip(id, title, "no app id given (--app)"))
		return
	}
	c := Check{ID: id, Title: title}
	defer func() { d.add(c) }()
	app := strings.ToLower(d.in.AppID)
	uri := ""
	if d.in.Domain != "" {
		uri = "api://" + strings.ToLower(d.in.Domain) + "/" + app
	}
	auds := d.audiences()
	if len(auds) != 1 {
		c.Status, c.Detail = StatusFail, fmt.Sprintf("aud has %d values; a Teams token has one", len(auds))
		c.Cause = "this is not the Teams SSO token for the app"
		c.Fix = "send the token getAuthToken() returns"
		return
	}
	aud := auds[0]
	la := strings.ToLower(aud)
	want := app
	if uri != "" {
		want += " or " + uri
	}
	switch {
	case la == app:
		c.Status, c.Detail = StatusPass, "aud is the app id "+app
	case uri != "" && la == uri:
		c.Status, c.Detail = StatusPass, "aud is the Application ID URI "+uri
	case la == graphAppID || strings.HasPrefix(la, "https://graph.microsoft.com") || strings.HasPrefix(la, "00000003-0000-0000-c000-000000000000"):
		c.Status, c.Detail = StatusFail, fmt.Sprintf("aud is %s: Microsoft Graph", aud)
		c.Cause = "a Microsoft Graph token was sent instead of the Teams SSO token for tamlink"
		c.Fix = "send the token getAuthToken() returns for the tab"
	case strings.HasPrefix(la, "api://") && strings.HasSuffix(la, "/"+app):
		domain := strings.TrimSuffix(strings.TrimPrefix(la, "api://"), "/"+app)
		if uri == "" {
			c.Status, c.Detail = StatusWarn, fmt.Sprintf("aud is %s; without --domain (tamlink's public host) its domain cannot be checked", aud)
			c.Cause = "the server accepts only api://{its public host}/" + app
			c.Fix = "run again with --domain, or with --data of the server's data dir"
			return
		}
		c.Status, c.Detail = StatusFail, fmt.Sprintf("aud is %s, tamlink expects %s", aud, want)
		c.Cause = fmt.Sprintf("the manifest's webApplicationInfo.resource does not match the Application ID URI tamlink is served under: it names %s, tamlink runs at %s", domain, d.in.Domain)
		c.Fix = fmt.Sprintf("set the Application ID URI (Expose an API) to %s and the Teams manifest's webApplicationInfo.resource to the same, then update the app in Teams (tamlink manifest builds it)", uri)
	default:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("aud is %s, tamlink expects %s", aud, want)
		c.Cause = "the token is for another app: the Teams manifest's webApplicationInfo (id and resource) names another app registration than this channel's appId " + app
		c.Fix = "make webApplicationInfo.id the channel's appId and webApplicationInfo.resource its Application ID URI (tamlink manifest builds it), or add the channel for the app the token is for"
	}
}

func (d *doctor) checkScope() {
	const id, title = "scope", "Delegated scope"
	if d.in.AppID == "" {
		d.add(skip(id, title, "no app id given (--app)"))
		return
	}
	c := Check{ID: id, Title: title}
	scp := d.str("scp")
	_, roles := d.claims["roles"]
	switch {
	case scp == "" && roles:
		c.Status, c.Detail = StatusFail, "the token has roles and no scp: an application (client credentials) token"
		c.Cause = "an app-only token was sent; it names no user"
		c.Fix = "send the user's token from getAuthToken()"
	case slices.Contains(strings.Fields(scp), d.in.Scope):
		c.Status, c.Detail = StatusPass, fmt.Sprintf("scp %q includes %s", scp, d.in.Scope)
	default:
		c.Status, c.Detail = StatusFail, fmt.Sprintf("scp is %q, without %s", scp, d.in.Scope)
		c.Cause = "the app registration's exposed API has no scope named " + d.in.Scope + " (or Teams asked for another one)"
		c.Fix = "in the app registration, Expose an API → Add a scope named " + d.in.Scope + ", enabled, and pre-authorize the Teams client ids for it (guide 3.1)"
	}
	d.add(c)
}

func (d *doctor) checkUser() {
	const id, title = "user", "User"
	if d.in.AppID == "" {
		d.add(skip(id, title, "no app id given (--app)"))
		return
	}
	c := Check{ID: id, Title: title}
	oid := d.str("oid")
	if oid == "" {
		c.Status, c.Detail = StatusFail, "the token has no oid (user object id)"
		c.Cause = "this is not a user's access token"
		c.Fix = "send the user's token from getAuthToken()"
	} else {
		who := firstOf(d.str("preferred_username"), d.str("upn"), d.str("unique_name"), d.str("name"))
		c.Status, c.Detail = StatusPass, fmt.Sprintf("user %s (object id %s)", who, oid)
		if idp := d.str("idp"); idp != "" {
			c.Detail += ", a guest from " + idp
		}
	}
	d.add(c)
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return "(no name)"
}

func (d *doctor) checkClient() {
	const id, title = "client", "Requesting client"
	if d.in.AppID == "" {
		d.add(skip(id, title, "no app id given (--app)"))
		return
	}
	c := Check{ID: id, Title: title}
	client := firstOf(d.str("azp"), d.str("appid"))
	if name, ok := teamsClients[strings.ToLower(client)]; ok {
		c.Status, c.Detail = StatusPass, fmt.Sprintf("requested by %s (%s)", name, client)
	} else {
		c.Status, c.Detail = StatusWarn, fmt.Sprintf("requested by client %s, which is not a Teams or Office client (tamlink accepts it)", client)
		c.Cause = "the token was obtained outside Teams, e.g. with a script or another app, not by the Teams tab"
		c.Fix = "to test Teams SSO, take the token from the tab (authentication.getAuthToken())"
	}
	d.add(c)
}

// checkServer asks tamlink's own verifier, when the inputs allow.
func (d *doctor) checkServer(ctx context.Context) {
	const id, title = "server", "tamlink's verifier"
	if d.in.TenantID == "" || d.in.AppID == "" {
		d.add(skip(id, title, "needs the channel's tenant and app"))
		return
	}
	cfg := ssotoken.Config{LoginURL: d.login, STSURL: d.sts, Now: func() time.Time { return d.at }, Leeway: d.leeway, CacheSize: -1}
	var v *ssotoken.Verifier
	if d.in.Keys != nil {
		var err error
		if v, err = ssotoken.NewWithKeySet(cfg, d.in.Keys); err != nil {
			d.add(Check{ID: id, Title: title, Status: StatusFail, Detail: "the key set is unusable: " + err.Error(),
				Cause: "the key set given is not Microsoft's JWKS document", Fix: "pass the tenant's discovery keys JSON"})
			return
		}
	} else if d.in.FetchKeys != nil {
		v = ssotoken.New(cfg)
	} else {
		d.add(skip(id, title, "no key set given"))
		return
	}
	if auds := d.audiences(); d.in.Domain == "" && len(auds) == 1 && strings.HasPrefix(strings.ToLower(auds[0]), "api://") {
		d.add(skip(id, title, "needs tamlink's public host (--domain) to judge an Application ID URI audience"))
		return
	}
	want := ssotoken.Expect{TenantID: d.in.TenantID, AppID: d.in.AppID, Scope: d.in.Scope}
	if d.in.Domain != "" {
		want.AppIDURIs = []string{"api://" + strings.ToLower(d.in.Domain) + "/" + strings.ToLower(d.in.AppID)}
	}
	id2, err := v.Verify(ctx, d.in.Token, want)
	c := Check{ID: id, Title: title}
	if err != nil {
		r := ssotoken.ReasonOf(err)
		c.Status, c.Detail = StatusFail, fmt.Sprintf("refused: %s", err)
		c.Cause = "the server answers POST /api/tab/{appId}/sso with 401 invalid_token, reason " + string(r) + "; the workbench shows that reason"
		c.Fix = "see the failed checks above"
		if d.failed() == 0 {
			c.Fix = "the checks above missed this: report it with this output"
		}
	} else {
		c.Status, c.Detail = StatusPass, fmt.Sprintf("accepted for user %s of tenant %s", id2.ObjectID, id2.TenantID)
	}
	d.add(c)
}

func (d *doctor) failed() int {
	n := 0
	for _, c := range d.checks {
		if c.Status == StatusFail {
			n++
		}
	}
	return n
}
