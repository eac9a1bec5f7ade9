package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestTeamworkCalls(t *testing.T) {
	var seen []string
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		if r.Method == http.MethodPost {
			data, _ := io.ReadAll(r.Body)
			body = nil
			_ = json.Unmarshal(data, &body)
		}
		switch {
		case r.Method == http.MethodGet:
			w.Write([]byte(`{"value":[{"id":"inst-1","teamsApp":{"id":"ta","externalId":"ext","displayName":"tamlink","distributionMethod":"organization"}}]}`))
		case r.URL.EscapedPath() == "/v1.0/users/u%2F1/teamwork/installedApps":
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":{"code":"Conflict","message":"already"}}`))
		case r.URL.Path == "/v1.0/users/u1/teamwork/installedApps":
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	ctx := context.Background()

	n := ActivityNotification{Topic: ActivityTopic{Source: "text", Value: "VPN", WebURL: DeepLink("ta", "workbench", "ticket-7")},
		ActivityType: "ticketComment", PreviewText: &ItemBody{Content: "hi"}, ChainID: 42,
		TemplateParameters: []KeyValuePair{{Name: "ticketTitle", Value: "VPN"}}}
	if err := c.SendActivityNotification(ctx, "u1", n, NoRetry()); err != nil {
		t.Fatal(err)
	}
	if body["activityType"] != "ticketComment" || body["chainId"] != float64(42) || body["topic"].(map[string]any)["source"] != "text" {
		t.Fatalf("body %v", body)
	}
	apps, err := c.InstalledApps(ctx, "u1", "ta")
	if err != nil || len(apps) != 1 || apps[0].TeamsApp.ID != "ta" {
		t.Fatalf("%v %+v", err, apps)
	}
	if q, _ := url.ParseQuery(seen[1][len("GET /v1.0/users/u1/teamwork/installedApps?"):]); q.Get("$filter") != "teamsApp/id eq 'ta'" || q.Get("$expand") != "teamsApp" {
		t.Fatalf("query %s", seen[1])
	}
	if err := c.InstallApp(ctx, "u1", "ta"); err != nil {
		t.Fatal(err)
	}
	if body["teamsApp@odata.bind"] != "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/ta" {
		t.Fatalf("bind %v", body)
	}
	if err := c.InstallApp(ctx, "u/1", "ta", NoRetry()); !errors.Is(err, ErrAlreadyInstalled) || StatusOf(err) != 409 {
		t.Fatalf("second install: %v", err)
	}
	if got, want := DeepLink("ta", "workbench", "ticket-7"), "https://teams.microsoft.com/l/entity/ta/workbench?context=%7B%22subEntityId%22%3A%22ticket-7%22%7D"; got != want {
		t.Fatalf("deep link\n got %s\nwant %s", got, want)
	}
}
