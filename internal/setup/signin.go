package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/graph"
)

// DeviceLogin signs an admin in with the OAuth 2.0 device authorization
// grant (graph-api.md §0): no browser on this machine, no redirect URI,
// and a public client, so no secret.
type DeviceLogin struct {
	LoginURL string // https://login.microsoftonline.com or the emulator's
	Tenant   string
	ClientID string   // default DefaultPublicClientID
	Scopes   []string // Graph permission names, e.g. SetupScopes
	HTTP     *http.Client
	// Prompt shows the user what to do (the message Microsoft returns).
	Prompt func(DeviceCode)
	// Sleep waits between polls; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DeviceCode is the answer of the devicecode endpoint.
type DeviceCode struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

// Token is a delegated access token.
type Token struct {
	AccessToken string
	Expiry      time.Time
	Scope       string
}

// SignInError is the identity platform's refusal.
type SignInError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *SignInError) Error() string {
	d, _, _ := strings.Cut(e.Description, "\r\n")
	return e.Code + ": " + d
}

func (d *DeviceLogin) httpClient() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (d *DeviceLogin) post(ctx context.Context, path string, form url.Values, out any) error {
	u := strings.TrimRight(d.LoginURL, "/") + "/" + url.PathEscape(d.Tenant) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := d.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &SignInError{}
		if json.Unmarshal(body, se) != nil || se.Code == "" {
			return fmt.Errorf("sign-in: %s answered %d: %.200s", u, resp.StatusCode, body)
		}
		return se
	}
	return json.Unmarshal(body, out)
}

// Token runs the flow: ask for a code, prompt, poll until the admin
// approves, declines or the code expires.
func (d *DeviceLogin) Token(ctx context.Context) (*Token, error) {
	client := d.ClientID
	if client == "" {
		client = DefaultPublicClientID
	}
	scopes := make([]string, len(d.Scopes))
	for i, s := range d.Scopes {
		scopes[i] = "https://graph.microsoft.com/" + s
	}
	var dc DeviceCode
	if err := d.post(ctx, "/oauth2/v2.0/devicecode", url.Values{"client_id": {client}, "scope": {strings.Join(scopes, " ")}}, &dc); err != nil {
		return nil, err
	}
	if d.Prompt != nil {
		d.Prompt(dc)
	}
	interval := time.Duration(max(dc.Interval, 1)) * time.Second
	deadline := time.Now().Add(time.Duration(max(dc.ExpiresIn, 60)) * time.Second)
	sleep := d.Sleep
	if sleep == nil {
		sleep = graph.Sleep
	}
	for {
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			Scope       string `json:"scope"`
		}
		err := d.post(ctx, "/oauth2/v2.0/token", url.Values{
			"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
			"client_id":   {client},
			"device_code": {dc.DeviceCode},
		}, &tok)
		if err == nil {
			return &Token{AccessToken: tok.AccessToken, Scope: tok.Scope, Expiry: time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)}, nil
		}
		se, ok := err.(*SignInError)
		switch {
		case !ok:
			return nil, err
		case se.Code == "authorization_pending":
		case se.Code == "slow_down":
			interval += 5 * time.Second
		case se.Code == "authorization_declined":
			return nil, fmt.Errorf("the sign-in was declined at %s", dc.VerificationURI)
		case se.Code == "expired_token":
			return nil, fmt.Errorf("the code %s expired before anyone signed in; run the command again", dc.UserCode)
		default:
			return nil, se
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the code %s expired before anyone signed in; run the command again", dc.UserCode)
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

// Source turns a token into the graph client's token function.
func (t *Token) Source() func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if !t.Expiry.IsZero() && time.Now().After(t.Expiry) {
			return "", fmt.Errorf("the admin sign-in expired at %s; run the command again", t.Expiry.Format(time.RFC3339))
		}
		return t.AccessToken, nil
	}
}
