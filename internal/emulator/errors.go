package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// aadError is an Entra (AADSTS) error before it is rendered as token-endpoint
// JSON, a redirect to the client, or an error page.
type aadError struct {
	status   int    // HTTP status for JSON responses
	err      string // OAuth "error" value; clients branch on this
	code     int    // AADSTS number
	msg      string // text after "AADSTSnnnn: "
	suberror string // e.g. consent_required
	claims   string // claims challenge (interaction_required)
	subcode  string // error_subcode on redirects, e.g. cancel
}

func newErr(status int, oauthErr string, code int, format string, args ...any) *aadError {
	return &aadError{status: status, err: oauthErr, code: code, msg: fmt.Sprintf(format, args...)}
}

func (a *aadError) Error() string { return fmt.Sprintf("%s: AADSTS%d: %s", a.err, a.code, a.msg) }

// aadErrorBody mirrors Microsoft's token-endpoint error JSON, field order
// included.
type aadErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
	Suberror         string `json:"suberror,omitempty"`
	Claims           string `json:"claims,omitempty"`
}

// aadTimestamp is Entra's "2006-01-02 15:04:05Z" format.
func aadTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// requestIDs returns the trace ID (new per request) and correlation ID (the
// client's client-request-id when sent, as Entra echoes it).
func requestIDs(r *http.Request) (trace, corr string) {
	trace = uuid.NewString()
	corr = r.Header.Get("client-request-id")
	if _, err := uuid.Parse(corr); err != nil || corr == "" {
		corr = uuid.NewString()
	}
	return trace, corr
}

func (e *Emulator) errorBody(r *http.Request, ae *aadError) aadErrorBody {
	trace, corr := requestIDs(r)
	ts := aadTimestamp(e.now())
	return aadErrorBody{
		Error: ae.err,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			ae.code, ae.msg, trace, corr, ts),
		ErrorCodes:    []int{ae.code},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      e.login + "/error?code=" + strconv.Itoa(ae.code),
		Suberror:      ae.suberror,
		Claims:        ae.claims,
	}
}

// writeAADError writes Microsoft's error JSON.
func (e *Emulator) writeAADError(w http.ResponseWriter, r *http.Request, ae *aadError) {
	body := e.errorBody(r, ae)
	e.log.Warn("emulator: AADSTS error", "path", r.URL.Path, "error", ae.err, "code", ae.code)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("x-ms-request-id", body.TraceID)
	h.Set("client-request-id", body.CorrelationID)
	if ae.status == http.StatusUnauthorized {
		// RFC 6749 §5.2: invalid_client with 401 carries a challenge.
		h.Set("WWW-Authenticate", `Basic realm="`+e.login+`"`)
	}
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(body)
}

// redirectError sends an authorize error back to a validated redirect URI,
// the way Entra does once it trusts the redirect URI.
func (e *Emulator) redirectError(w http.ResponseWriter, r *http.Request, ar *authRequest, ae *aadError) {
	body := e.errorBody(r, ae)
	e.log.Warn("emulator: authorize error redirected", "client", ar.clientID, "error", ae.err, "code", ae.code)
	v := url.Values{}
	v.Set("error", ae.err)
	if ae.subcode != "" {
		v.Set("error_subcode", ae.subcode)
	}
	v.Set("error_description", body.ErrorDescription)
	v.Set("error_uri", body.ErrorURI)
	if ae.suberror != "" {
		v.Set("suberror", ae.suberror)
	}
	if ar.state != "" {
		v.Set("state", ar.state)
	}
	e.respondToClient(w, ar, v)
}

// errorPage renders Entra's "Sorry, but we're having trouble signing you in"
// page: used when the redirect URI cannot be trusted, so nothing is sent to
// the client. The status is 400 (Entra answers 200) so scripts notice.
func (e *Emulator) errorPage(w http.ResponseWriter, r *http.Request, ae *aadError) {
	body := e.errorBody(r, ae)
	e.log.Warn("emulator: sign-in error page", "error", ae.err, "code", ae.code)
	w.Header().Set("x-ms-request-id", body.TraceID)
	e.renderPage(w, http.StatusBadRequest, errorPageTmpl, map[string]any{
		"Code":          fmt.Sprintf("AADSTS%d", ae.code),
		"Message":       ae.msg,
		"Error":         ae.err,
		"TraceID":       body.TraceID,
		"CorrelationID": body.CorrelationID,
		"Timestamp":     body.Timestamp,
		"ErrorURI":      body.ErrorURI,
	})
}

// handleErrorLookup plays https://login.microsoftonline.com/error?code=N.
func (e *Emulator) handleErrorLookup(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	text, ok := knownCodes[code]
	if !ok {
		text = "The emulator has no description for this code; see Microsoft's error code reference."
	}
	e.renderPage(w, http.StatusOK, errorLookupTmpl, map[string]any{"Code": code, "Text": text})
}

// knownCodes describes the AADSTS codes the emulator can return.
var knownCodes = map[string]string{
	"28000":   "InvalidMultipleResourcesScope - the scope parameter names more than one resource.",
	"50011":   "InvalidReplyTo - the redirect URI doesn't match the redirect URIs configured for the app.",
	"50013":   "InvalidAssertion - the assertion is invalid (signature, issuer, audience or user).",
	"500011":  "InvalidResourceServicePrincipalNotFound - the resource principal wasn't found in the tenant.",
	"500112":  "The reply address doesn't match the one used when requesting the authorization code.",
	"500133":  "The assertion isn't within its valid time range.",
	"50000":   "TokenIssuanceError - there's an issue with the sign-in service.",
	"50034":   "UserAccountNotFound - the account must be added to the directory.",
	"50089":   "Authentication failed due to flow token expired; sign in again.",
	"50173":   "FreshTokenNeeded - the grant was revoked; the user must sign in again.",
	"501491":  "InvalidCodeChallengeMethodInvalidSize - invalid size of Code_Challenge parameter.",
	"900971":  "No reply address provided.",
	"50058":   "UserInformationNotProvided - a silent sign-in request was sent but no user is signed in.",
	"50076":   "UserStrongAuthClientAuthNRequired - multifactor authentication is required.",
	"50079":   "UserStrongAuthEnrollmentRequired - the user must use multifactor authentication.",
	"50148":   "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
	"501481":  "The Code_Verifier doesn't match the code_challenge supplied in the authorization request.",
	"50149":   "Invalid Code_Challenge_method parameter.",
	"50194":   "The application isn't configured as a multitenant application; use a tenant-specific endpoint.",
	"54005":   "OAuth2 Authorization code was already redeemed.",
	"65001":   "DelegationDoesNotExist - the user or administrator hasn't consented to use the application.",
	"65004":   "UserDeclinedConsent - the user declined to consent to access the app.",
	"65005":   "MisconfiguredApplication - the app asked for a scope that doesn't exist on the resource.",
	"70000":   "InvalidGrant - the grant is invalid or malformed.",
	"70003":   "UnsupportedGrantType - the app requested an unsupported grant type.",
	"70005":   "UnsupportedResponseType - the response type isn't supported.",
	"700005":  "InvalidGrantRedeemAgainstWrongTenant - the authorization code is for another tenant.",
	"70007":   "UnsupportedResponseMode - the response_mode isn't supported.",
	"70008":   "ExpiredOrRevokedGrant - the authorization code or refresh token has expired.",
	"700016":  "UnauthorizedClient_DoesNotMatchRequest - the application wasn't found in the directory/tenant.",
	"700027":  "Client assertion failed signature validation.",
	"700054":  "Response_type 'id_token' isn't enabled for the application.",
	"70011":   "InvalidScope - the scope requested by the app is invalid.",
	"700082":  "ExpiredOrRevokedGrantInactiveToken - the refresh token has expired.",
	"7000215": "Invalid client secret is provided.",
	"7000218": "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
	"7000222": "InvalidClientSecretExpiredKeysProvided - the provided client secret keys are expired.",
	"90002":   "InvalidTenantName - the tenant wasn't found.",
	"90023":   "InvalidRequest - the authentication service request isn't valid.",
	"900144":  "The request body must contain a required parameter.",
	"9001023": "The grant type isn't supported over the /common or /consumers endpoints.",
	"9002313": "InvalidRequest - request is malformed or invalid.",
	"900561":  "BadResourceRequestInvalidRequest - the endpoint only accepts POST requests.",
	"1002012": "Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
	"240002":  "An id_token can't be used as an urn:ietf:params:oauth:grant-type:jwt-bearer grant.",
}

// Common errors, worded as Entra words them.

func errTenantNotFound(seg string, status int, oauthErr string) *aadError {
	return newErr(status, oauthErr, 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", seg)
}

func errMissingParam(name string) *aadError {
	return newErr(http.StatusBadRequest, "invalid_request", 900144,
		"The request body must contain the following parameter: '%s'.", name)
}

func errAppNotFound(appID, tenantName string) *aadError {
	return newErr(http.StatusBadRequest, "unauthorized_client", 700016,
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
		appID, tenantName)
}

func errNotMultiTenant(a *appState) *aadError {
	return newErr(http.StatusBadRequest, "invalid_request", 50194,
		"Application '%s'(%s) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
		a.AppID, a.DisplayName)
}

func errConsentRequired(clientID, clientName string) *aadError {
	ae := newErr(http.StatusBadRequest, "invalid_grant", 65001,
		"The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.",
		clientID, clientName)
	ae.suberror = "consent_required"
	return ae
}

// mfaClaimsChallenge is the claims challenge Entra attaches to
// interaction_required (the shape of the OBO documentation's example).
const mfaClaimsChallenge = `{"access_token":{"polids":{"essential":true,"values":["9ab03e19-ed42-4168-b6b7-7001fb3e933a"]}}}`

func errMFARequired(code int, resourceID string) *aadError {
	var ae *aadError
	if code == 50079 {
		ae = newErr(http.StatusBadRequest, "interaction_required", 50079,
			"Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '%s'.", resourceID)
	} else {
		ae = newErr(http.StatusBadRequest, "interaction_required", 50076,
			"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.", resourceID)
	}
	ae.claims = mfaClaimsChallenge
	return ae
}
