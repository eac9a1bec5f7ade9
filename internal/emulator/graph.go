package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// graphSkew is the clock skew Graph tolerates on exp/nbf.
const graphSkew = 5 * time.Minute

// graphError is Graph's error body: {"error":{"code","message","innerError"}}.
type graphError struct {
	status  int
	code    string
	message string
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// graphIDs returns request-id (new) and client-request-id (echoed when the
// client sent one, as Graph does).
func graphIDs(r *http.Request) (reqID, clientReqID string) {
	reqID = uuid.NewString()
	clientReqID = r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	return reqID, clientReqID
}

func (e *Emulator) writeGraphError(w http.ResponseWriter, r *http.Request, ge *graphError) {
	reqID, clientReqID := graphIDs(r)
	body := map[string]any{"error": map[string]any{
		"code":    ge.code,
		"message": ge.message,
		"innerError": graphInnerError{
			Date:            e.now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       reqID,
			ClientRequestID: clientReqID,
		},
	}}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	if ge.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+e.login+`/common/oauth2/authorize", client_id="`+GraphAppID+`"`)
	}
	e.log.Warn("emulator: graph error", "path", r.URL.Path, "status", ge.status, "code", ge.code)
	w.WriteHeader(ge.status)
	_ = json.NewEncoder(w).Encode(body)
}

func errGraphAuth(msg string) *graphError {
	return &graphError{http.StatusUnauthorized, "InvalidAuthenticationToken", msg}
}

// graphCaller is a validated Graph bearer token.
type graphCaller struct {
	claims   jwt.MapClaims
	tenant   *tenantState
	user     *User // nil for app-only tokens
	scopes   []string
	clientID string
}

func (c *graphCaller) hasScope(wanted ...string) bool {
	for _, s := range c.scopes {
		for _, want := range wanted {
			if strings.EqualFold(s, want) {
				return true
			}
		}
	}
	return false
}

// authenticateGraph validates the bearer token the way Graph does:
// signature by a published key, lifetime, audience Graph, issuer of a known
// tenant.
func (e *Emulator) authenticateGraph(r *http.Request) (*graphCaller, *graphError) {
	authz := r.Header.Get("Authorization")
	scheme, raw, _ := strings.Cut(authz, " ")
	raw = strings.TrimSpace(raw)
	if authz == "" || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, errGraphAuth("Access token is empty.")
	}
	if strings.Count(raw, ".") != 2 {
		return nil, errGraphAuth("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.")
	}
	claims, err := e.parseOwnToken(raw)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return nil, errGraphAuth("IDX14100: JWT is not well formed.")
		}
		return nil, errGraphAuth("Access token validation failure. Invalid signature.")
	}
	now := e.now()
	if exp, _ := claims.GetExpirationTime(); exp == nil || now.After(exp.Add(graphSkew)) {
		return nil, errGraphAuth("Lifetime validation failed, the token is expired.")
	}
	if nbf, _ := claims.GetNotBefore(); nbf != nil && nbf.After(now.Add(graphSkew)) {
		return nil, errGraphAuth("Lifetime validation failed, the token is not yet valid.")
	}
	aud, _ := claims.GetAudience()
	if !slices.ContainsFunc(aud, func(a string) bool {
		a = strings.TrimRight(strings.ToLower(a), "/")
		return a == GraphResource || a == GraphAppID
	}) {
		return nil, errGraphAuth("Access token validation failure. Invalid audience.")
	}
	tid, _ := claims["tid"].(string)
	iss, _ := claims["iss"].(string)
	if iss != e.sts+"/"+tid+"/" && iss != e.login+"/"+tid+"/v2.0" {
		return nil, errGraphAuth("Access token validation failure. Invalid issuer.")
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	t, ok := e.tenants[tid]
	if !ok {
		return nil, errGraphAuth("Access token validation failure. Invalid issuer.")
	}
	c := &graphCaller{claims: claims, tenant: t}
	c.clientID, _ = claims["appid"].(string)
	if c.clientID == "" {
		c.clientID, _ = claims["azp"].(string)
	}
	if scp, _ := claims["scp"].(string); scp != "" {
		c.scopes = strings.Fields(scp)
		oid, _ := claims["oid"].(string)
		u, ok := t.users[lower(oid)]
		if !ok {
			return nil, errGraphAuth("Access token validation failure. The user of the token no longer exists.")
		}
		uc := *u
		c.user = &uc
	}
	return c, nil
}

// meReadScopes are the delegated permissions that allow GET /me.
var meReadScopes = []string{"User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All",
	"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}

// userProperties is the default /me projection, in Graph's order.
var userProperties = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func userProperty(u *User, name string) (any, bool) {
	switch name {
	case "businessPhones":
		return []string{}, true
	case "displayName":
		return nullable(u.DisplayName), true
	case "givenName":
		return nullable(u.GivenName), true
	case "jobTitle":
		return nullable(u.JobTitle), true
	case "mail":
		return nullable(u.Mail), true
	case "mobilePhone", "officeLocation":
		return nil, true
	case "preferredLanguage":
		return nullable(u.PreferredLanguage), true
	case "surname":
		return nullable(u.Surname), true
	case "userPrincipalName":
		return u.UserPrincipalName, true
	case "id":
		return u.ObjectID, true
	}
	return nil, false
}

// handleGraphMe serves GET /v1.0/me (with optional $select).
func (e *Emulator) handleGraphMe(w http.ResponseWriter, r *http.Request) {
	c, ge := e.authenticateGraph(r)
	if ge != nil {
		e.writeGraphError(w, r, ge)
		return
	}
	if c.user == nil {
		e.writeGraphError(w, r, &graphError{http.StatusBadRequest, "BadRequest",
			"/me request is only valid with delegated authentication flow."})
		return
	}
	if !c.hasScope(meReadScopes...) {
		e.writeGraphError(w, r, &graphError{http.StatusForbidden, "Authorization_RequestDenied",
			"Insufficient privileges to complete the operation."})
		return
	}
	props := userProperties
	context := "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
	if sel := r.URL.Query().Get("$select"); sel != "" {
		props = nil
		for _, p := range strings.Split(sel, ",") {
			p = strings.TrimSpace(p)
			if _, ok := userProperty(c.user, p); !ok {
				e.writeGraphError(w, r, &graphError{http.StatusBadRequest, "BadRequest",
					"Could not find a property named '" + p + "' on type 'microsoft.graph.user'."})
				return
			}
			props = append(props, p)
		}
		context = "https://graph.microsoft.com/v1.0/$metadata#users(" + strings.Join(props, ",") + ")/$entity"
	}
	fields := [][2]any{{"@odata.context", context}}
	for _, p := range props {
		v, _ := userProperty(c.user, p)
		fields = append(fields, [2]any{p, v})
	}
	e.writeGraphJSON(w, r, fields)
}

// handleUserInfo serves the OIDC userinfo endpoint Entra's v2 discovery
// points at (graph.microsoft.com/oidc/userinfo).
func (e *Emulator) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	c, ge := e.authenticateGraph(r)
	if ge != nil {
		e.writeGraphError(w, r, ge)
		return
	}
	if c.user == nil || !c.hasScope("openid") {
		e.writeGraphError(w, r, &graphError{http.StatusForbidden, "Authorization_RequestDenied",
			"Insufficient privileges to complete the operation."})
		return
	}
	fields := [][2]any{{"sub", pairwiseSub(c.user.ObjectID, c.clientID)}}
	if c.hasScope("profile") {
		fields = append(fields, [2]any{"name", c.user.DisplayName}, [2]any{"family_name", c.user.Surname},
			[2]any{"given_name", c.user.GivenName}, [2]any{"picture", "https://graph.microsoft.com/v1.0/me/photo/$value"})
	}
	if c.hasScope("email") && c.user.Mail != "" {
		fields = append(fields, [2]any{"email", c.user.Mail})
	}
	e.writeGraphJSON(w, r, fields)
}

func (e *Emulator) handleGraphNotFound(w http.ResponseWriter, r *http.Request) {
	e.writeGraphError(w, r, &graphError{http.StatusBadRequest, "BadRequest",
		"Resource not found for the segment '" + lastSegment(r.URL.Path) + "'."})
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// writeGraphJSON writes an object with keys in the given order (Graph puts
// @odata.context first; encoding a map would sort the keys).
func (e *Emulator) writeGraphJSON(w http.ResponseWriter, r *http.Request, fields [][2]any) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, kv := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(kv[0])
		v, err := json.Marshal(kv[1])
		if err != nil {
			v = []byte("null")
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteString("}\n")
	setGraphHeaders(w, r)
	_, _ = w.Write(buf.Bytes())
}

// setGraphHeaders sets the headers Graph answers JSON with, including the
// request ids clients quote in support cases.
func setGraphHeaders(w http.ResponseWriter, r *http.Request) {
	reqID, clientReqID := graphIDs(r)
	h := w.Header()
	h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	h.Set("OData-Version", "4.0")
}
