// Package entra talks to the Microsoft identity platform and Microsoft Graph
// on behalf of a channel: client credentials ("test connection"), the
// authorization-code sign-in with PKCE, on-behalf-of for Graph, and GET /me.
// It uses golang.org/x/oauth2 for the OAuth grants and go-oidc for ID tokens;
// the endpoints are configurable so the same code runs against Microsoft or
// tamlink's emulator.
package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Endpoints are the bases of Microsoft's services.
type Endpoints struct {
	LoginURL string // https://login.microsoftonline.com
	STSURL   string // https://sts.windows.net (v1 token issuer)
	GraphURL string // https://graph.microsoft.com
}

// Microsoft are the public cloud's endpoints.
var Microsoft = Endpoints{
	LoginURL: "https://login.microsoftonline.com",
	STSURL:   "https://sts.windows.net",
	GraphURL: "https://graph.microsoft.com",
}

// Client is safe for concurrent use.
type Client struct {
	Endpoints Endpoints
	HTTP      *http.Client

	mu        sync.Mutex
	providers map[string]*oidc.Provider
}

// New returns a client for ep using hc (nil = a client with a 15 s time-out).
func New(ep Endpoints, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	return &Client{Endpoints: ep, HTTP: hc, providers: map[string]*oidc.Provider{}}
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.HTTP)
}

// TokenURL is the v2 token endpoint of a tenant.
func (c *Client) TokenURL(tenant string) string {
	return c.Endpoints.LoginURL + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// AuthorizeURL is the v2 authorize endpoint of a tenant.
func (c *Client) AuthorizeURL(tenant string) string {
	return c.Endpoints.LoginURL + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/authorize"
}

// GraphResource is Microsoft Graph's resource identifier. Scopes name it
// whatever URL Graph is reached at (the emulator's, in demo and tests).
const GraphResource = "https://graph.microsoft.com"

// GraphScope is a delegated Graph scope as the identity platform expects it.
func (c *Client) GraphScope(name string) string { return GraphResource + "/" + name }

// AADError is an error answered by the identity platform.
type AADError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	SubError    string `json:"suberror"`
	Claims      string `json:"claims"`
	TraceID     string `json:"trace_id"`
	Correlation string `json:"correlation_id"`
}

func (e *AADError) Error() string {
	d, _, _ := strings.Cut(e.Description, "\r\n")
	return fmt.Sprintf("%s: %s", e.Code, d)
}

// AADSTS returns the first AADSTS code, or 0.
func (e *AADError) AADSTS() int {
	if len(e.Codes) > 0 {
		return e.Codes[0]
	}
	return 0
}

// NeedsInteraction reports whether the user must consent or satisfy a policy
// interactively before on-behalf-of can work.
func (e *AADError) NeedsInteraction() bool {
	return e.Code == "interaction_required" || e.SubError == "consent_required" ||
		(e.Code == "invalid_grant" && (e.AADSTS() == 65001 || e.AADSTS() == 65004))
}

// asAADError turns an oauth2 error into *AADError when the body carries one.
func asAADError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	e := &AADError{}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
	}
	if json.Unmarshal(re.Body, e) != nil || e.Code == "" {
		return fmt.Errorf("token endpoint answered %d: %.200s", e.Status, re.Body)
	}
	return e
}

// ClientCredentials gets an app-only token for scope (e.g. Graph's /.default).
func (c *Client) ClientCredentials(ctx context.Context, tenant, appID, secret, scope string) (*oauth2.Token, error) {
	cc := clientcredentials.Config{
		ClientID: appID, ClientSecret: secret, TokenURL: c.TokenURL(tenant),
		Scopes: []string{scope}, AuthStyle: oauth2.AuthStyleInParams,
	}
	tok, err := cc.Token(c.ctx(ctx))
	if err != nil {
		return nil, asAADError(err)
	}
	return tok, nil
}

// OnBehalfOf exchanges a user's token for one to call Graph with scopes.
// x/oauth2's client-credentials grant lets grant_type be overridden, which is
// exactly the jwt-bearer request the OBO flow documents.
func (c *Client) OnBehalfOf(ctx context.Context, tenant, appID, secret, assertion string, scopes ...string) (*oauth2.Token, error) {
	cc := clientcredentials.Config{
		ClientID: appID, ClientSecret: secret, TokenURL: c.TokenURL(tenant), Scopes: scopes,
		AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{
			"grant_type":          {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
			"assertion":           {assertion},
			"requested_token_use": {"on_behalf_of"},
		},
	}
	tok, err := cc.Token(c.ctx(ctx))
	if err != nil {
		return nil, asAADError(err)
	}
	return tok, nil
}

// AuthCodeConfig is the OAuth configuration of a channel's browser sign-in.
// It always names the tenant, never /common: single-tenant apps and guests
// need the tenant's own authority.
func (c *Client) AuthCodeConfig(tenant, appID, secret, redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: appID, ClientSecret: secret, RedirectURL: redirectURL,
		Endpoint: oauth2.Endpoint{AuthURL: c.AuthorizeURL(tenant), TokenURL: c.TokenURL(tenant), AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "profile", "email", c.GraphScope("User.Read")},
	}
}

// Exchange redeems an authorization code with its PKCE verifier.
func (c *Client) Exchange(ctx context.Context, cfg *oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	tok, err := cfg.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, asAADError(err)
	}
	return tok, nil
}

// IDClaims are the identity claims tamlink reads from an ID token.
type IDClaims struct {
	TenantID          string `json:"tid"`
	ObjectID          string `json:"oid"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Email             string `json:"email"`
	Nonce             string `json:"nonce"`
	IdP               string `json:"idp"`
}

// VerifyIDToken checks an ID token from tenant's v2 authority for appID and
// the expected nonce.
func (c *Client) VerifyIDToken(ctx context.Context, tenant, appID, raw, nonce string) (IDClaims, error) {
	var cl IDClaims
	p, err := c.provider(ctx, tenant)
	if err != nil {
		return cl, err
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: appID}).Verify(c.ctx(ctx), raw)
	if err != nil {
		return cl, err
	}
	if err := idt.Claims(&cl); err != nil {
		return cl, err
	}
	if cl.Nonce != nonce {
		return cl, errors.New("id token nonce does not match this sign-in")
	}
	if !strings.EqualFold(cl.TenantID, tenant) {
		return cl, fmt.Errorf("id token is for tenant %s, not %s", cl.TenantID, tenant)
	}
	return cl, nil
}

func (c *Client) provider(ctx context.Context, tenant string) (*oidc.Provider, error) {
	c.mu.Lock()
	p := c.providers[tenant]
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	// Discovery uses a background context: the provider outlives this request.
	dctx, cancel := context.WithTimeout(c.ctx(context.Background()), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, c.Endpoints.LoginURL+"/"+tenant+"/v2.0")
	if err != nil {
		return nil, fmt.Errorf("openid discovery for tenant %s: %w", tenant, err)
	}
	c.mu.Lock()
	c.providers[tenant] = p
	c.mu.Unlock()
	return p, nil
}

// GraphUser is the part of Graph's user resource tamlink uses.
type GraphUser struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
	PreferredLanguage string `json:"preferredLanguage"`
}

// GraphError is Graph's error shape.
type GraphError struct {
	Status  int
	Code    string
	Message string
}

func (e *GraphError) Error() string {
	return fmt.Sprintf("graph %d %s: %s", e.Status, e.Code, e.Message)
}

// Me reads the signed-in user's profile with a delegated Graph token.
func (c *Client) Me(ctx context.Context, accessToken string) (GraphUser, error) {
	var u GraphUser
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoints.GraphURL+"/v1.0/me?$select=id,displayName,mail,userPrincipalName,preferredLanguage", nil)
	if err != nil {
		return u, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return u, fmt.Errorf("graph /me: %w", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var ge struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = dec.Decode(&ge)
		return u, &GraphError{Status: resp.StatusCode, Code: ge.Error.Code, Message: ge.Error.Message}
	}
	if err := dec.Decode(&u); err != nil {
		return u, fmt.Errorf("graph /me: %w", err)
	}
	return u, nil
}
