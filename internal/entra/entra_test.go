package entra

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// aadServer answers the token endpoint with a fixed Microsoft error body.
func aadServer(t *testing.T, status int, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return New(Endpoints{LoginURL: srv.URL, GraphURL: srv.URL}, srv.Client())
}

func TestAADErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		status      int
		code        int
		interaction bool
		hint        string
	}{
		{"bad secret", `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}`, 401, 7000215, false, "Value (not its Secret ID)"},
		{"consent", `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented","error_codes":[65001],"suberror":"consent_required"}`, 400, 65001, true, "consent"},
		{"mfa", `{"error":"interaction_required","error_description":"AADSTS50079: Due to a configuration change","error_codes":[50079],"claims":"{}"}`, 400, 50079, true, "AADSTS50079"},
		{"unknown app", `{"error":"unauthorized_client","error_description":"AADSTS700016: Application not found","error_codes":[700016]}`, 400, 700016, false, "swapped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := aadServer(t, tc.status, tc.body)
			_, err := c.OnBehalfOf(context.Background(), "t", "a", "s", "assertion", c.GraphScope("User.Read"))
			ae, ok := err.(*AADError)
			if !ok {
				t.Fatalf("got %T %v", err, err)
			}
			if ae.AADSTS() != tc.code || ae.NeedsInteraction() != tc.interaction || ae.Status != tc.status {
				t.Fatalf("%+v", ae)
			}
			if strings.Contains(ae.Error(), "Trace ID") {
				t.Fatal("error text keeps the trace lines")
			}
			if got := Explain(err); !strings.Contains(got, tc.hint) {
				t.Fatalf("Explain = %q, want %q in it", got, tc.hint)
			}
		})
	}
	// A non-JSON failure is still an error with the status, not a panic.
	c := aadServer(t, 502, "<html>bad gateway</html>")
	if _, err := c.ClientCredentials(context.Background(), "t", "a", "s", "x/.default"); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("got %v", err)
	}
}

func TestGraphScopeNamesTheResource(t *testing.T) {
	c := New(Endpoints{LoginURL: "http://emu/login", GraphURL: "http://emu/graph"}, nil)
	if got := c.GraphScope("User.Read"); got != "https://graph.microsoft.com/User.Read" {
		t.Fatalf("GraphScope = %s: scopes name Graph's resource id whatever URL Graph is reached at", got)
	}
	if got := c.TokenURL("contoso"); got != "http://emu/login/contoso/oauth2/v2.0/token" {
		t.Fatal(got)
	}
}
