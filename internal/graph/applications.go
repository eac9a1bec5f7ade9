package graph

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// App registrations through Graph v1.0 (reference: graph-api.md section 1).
// Property names are v1.0's: preAuthorizedApplications carry
// delegatedPermissionIds (permissionIds is the beta name).

// Application is Graph's application resource, the parts tamlink reads and
// writes. The same type is a create body: read-only members (id, appId,
// passwordCredentials) are left empty and omitted.
type Application struct {
	ID                     string                   `json:"id,omitempty"`
	AppID                  string                   `json:"appId,omitempty"`
	DisplayName            string                   `json:"displayName,omitempty"`
	SignInAudience         string                   `json:"signInAudience,omitempty"`
	IdentifierURIs         []string                 `json:"identifierUris,omitempty"`
	Tags                   []string                 `json:"tags,omitempty"`
	Web                    *Web                     `json:"web,omitempty"`
	API                    *API                     `json:"api,omitempty"`
	RequiredResourceAccess []RequiredResourceAccess `json:"requiredResourceAccess,omitempty"`
	PasswordCredentials    []PasswordCredential     `json:"passwordCredentials,omitempty"`
}

// Web is application.web.
type Web struct {
	RedirectURIs          []string               `json:"redirectUris"`
	ImplicitGrantSettings *ImplicitGrantSettings `json:"implicitGrantSettings,omitempty"`
}

// ImplicitGrantSettings is web.implicitGrantSettings.
type ImplicitGrantSettings struct {
	EnableAccessTokenIssuance bool `json:"enableAccessTokenIssuance"`
	EnableIDTokenIssuance     bool `json:"enableIdTokenIssuance"`
}

// API is application.api. Graph replaces it as a whole on PATCH: send
// every member (read, modify, write).
type API struct {
	RequestedAccessTokenVersion *int                       `json:"requestedAccessTokenVersion"`
	KnownClientApplications     []string                   `json:"knownClientApplications,omitempty"`
	OAuth2PermissionScopes      []PermissionScope          `json:"oauth2PermissionScopes"`
	PreAuthorizedApplications   []PreAuthorizedApplication `json:"preAuthorizedApplications"`
}

// PermissionScope is a delegated permission an API exposes. The client
// generates its id.
type PermissionScope struct {
	ID                      string `json:"id"`
	Value                   string `json:"value"`
	Type                    string `json:"type"` // User or Admin
	IsEnabled               bool   `json:"isEnabled"`
	AdminConsentDisplayName string `json:"adminConsentDisplayName"`
	AdminConsentDescription string `json:"adminConsentDescription"`
	UserConsentDisplayName  string `json:"userConsentDisplayName,omitempty"`
	UserConsentDescription  string `json:"userConsentDescription,omitempty"`
}

// PreAuthorizedApplication lets a client use scopes without consent.
type PreAuthorizedApplication struct {
	AppID                  string   `json:"appId"`
	DelegatedPermissionIDs []string `json:"delegatedPermissionIds"`
}

// RequiredResourceAccess lists the permissions an app asks for on one
// resource.
type RequiredResourceAccess struct {
	ResourceAppID  string           `json:"resourceAppId"`
	ResourceAccess []ResourceAccess `json:"resourceAccess"`
}

// ResourceAccess is one permission: Type Scope (delegated) or Role
// (application).
type ResourceAccess struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// PasswordCredential is a client secret. SecretText is only ever set in
// addPassword's answer.
type PasswordCredential struct {
	KeyID         string     `json:"keyId,omitempty"`
	DisplayName   string     `json:"displayName,omitempty"`
	Hint          string     `json:"hint,omitempty"`
	SecretText    string     `json:"secretText,omitempty"`
	StartDateTime *time.Time `json:"startDateTime,omitempty"`
	EndDateTime   *time.Time `json:"endDateTime,omitempty"`
}

// ReplicationRetries is how many 404s a call addressing a just-created
// object tolerates (Entra's replication delay).
const ReplicationRetries = 6

// Quote makes s an OData string literal, doubling any quote inside.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Query renders OData query options readably: $ and quotes stay, spaces
// and URL delimiters are escaped.
func Query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(escapeQueryValue(kv[i+1]))
	}
	return b.String()
}

func escapeQueryValue(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == ' ':
			b.WriteString("%20")
		case strings.ContainsRune("%&+#=?\\\"", r) || r < 0x20 || r > 0x7e:
			b.WriteString(url.QueryEscape(string(r)))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

type list[T any] struct {
	Value []T `json:"value"`
}

// ListApplications lists applications matching an OData filter, e.g.
// "tags/any(t:t eq 'x')" or "displayName eq 'x'".
func (c *Client) ListApplications(ctx context.Context, filter string) ([]Application, error) {
	var out list[Application]
	err := c.Do(ctx, http.MethodGet, "/v1.0/applications"+Query("$filter", filter), nil, &out)
	return out.Value, err
}

// GetApplication reads an application by object id (not appId).
func (c *Client) GetApplication(ctx context.Context, id string) (Application, error) {
	var a Application
	err := c.Do(ctx, http.MethodGet, "/v1.0/applications/"+url.PathEscape(id), nil, &a, RetryNotFound(ReplicationRetries))
	return a, err
}

// CreateApplication registers an application (201 with the object).
func (c *Client) CreateApplication(ctx context.Context, a Application) (Application, error) {
	var out Application
	err := c.Do(ctx, http.MethodPost, "/v1.0/applications", a, &out)
	return out, err
}

// UpdateApplication PATCHes the members of patch (a struct or map) onto
// application id; members not sent keep their values, complex members
// (web, api) are replaced whole. Graph answers 204.
func (c *Client) UpdateApplication(ctx context.Context, id string, patch any) error {
	return c.Do(ctx, http.MethodPatch, "/v1.0/applications/"+url.PathEscape(id), patch, nil, RetryNotFound(ReplicationRetries))
}

// AddPassword creates a client secret; the answer's SecretText is the only
// time Graph shows the value.
func (c *Client) AddPassword(ctx context.Context, id, displayName string, end time.Time) (PasswordCredential, error) {
	body := map[string]any{"passwordCredential": PasswordCredential{DisplayName: displayName, EndDateTime: &end}}
	var out PasswordCredential
	err := c.Do(ctx, http.MethodPost, "/v1.0/applications/"+url.PathEscape(id)+"/addPassword", body, &out, RetryNotFound(ReplicationRetries))
	return out, err
}

// RemovePassword deletes a client secret by key id.
func (c *Client) RemovePassword(ctx context.Context, id, keyID string) error {
	return c.Do(ctx, http.MethodPost, "/v1.0/applications/"+url.PathEscape(id)+"/removePassword", map[string]string{"keyId": keyID}, nil, RetryNotFound(ReplicationRetries))
}
