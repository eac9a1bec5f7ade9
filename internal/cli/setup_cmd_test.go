package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/cli"
	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/emulator"
	"github.com/tamlink/tamlink/internal/manifest"
	"github.com/tamlink/tamlink/internal/setup"
)

// tamlinkEnv runs the CLI with environment variables.
func tamlinkEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

const (
	suTenant = "7a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
	suAdmin  = "11111111-2222-4333-8444-555555555555"
	suDomain = "desk.example.com"
)

// adminEnv starts an emulated tenant and returns the environment that
// points the commands at it with an admin's delegated Graph token.
func adminEnv(t *testing.T) (*emulator.Emulator, map[string]string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e, err := emulator.New(emulator.Config{BaseURL: srv.URL + "/emulator"})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/emulator/", http.StripPrefix("/emulator", e.Handler()))
	if err := e.AddTenant(emulator.Tenant{ID: suTenant, DisplayName: "Contoso", Domain: "contoso.onmicrosoft.com"}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddUser(suTenant, emulator.User{ObjectID: suAdmin, DisplayName: "Ada Admin", UserPrincipalName: "ada@contoso.onmicrosoft.com"}); err != nil {
		t.Fatal(err)
	}
	d := &setup.DeviceLogin{LoginURL: e.LoginURL(), Tenant: suTenant, Scopes: setup.SetupScopes,
		Sleep:  func(context.Context, time.Duration) error { return nil },
		Prompt: func(dc setup.DeviceCode) { _ = e.Approve(dc.UserCode, suAdmin) }}
	tok, err := d.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e, map[string]string{"TAMLINK_LOGIN_URL": e.LoginURL(), "TAMLINK_GRAPH_URL": e.GraphURL(), "TAMLINK_GRAPH_TOKEN": tok.AccessToken}
}

func TestSetupDoctorCommands(t *testing.T) {
	e, env := adminEnv(t)
	dir := t.TempDir()
	channelFile, pkgFile := filepath.Join(dir, "channel.json"), filepath.Join(dir, "teams-app.zip")
	code, out, errs := tamlinkEnv(t, env, "setup", "--tenant", suTenant, "--domain", suDomain, "--name", "Contoso Desk",
		"--package-out", pkgFile, "--out", channelFile)
	if code != 0 {
		t.Fatalf("setup: %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"[1/8] App registration", "[8/8] Channel for tamlink", "created", "published", "channel JSON written"} {
		if !strings.Contains(errs, want) {
			t.Errorf("setup's progress lacks %q:\n%s", want, errs)
		}
	}
	raw, _ := os.ReadFile(channelFile)
	if st, _ := os.Stat(channelFile); st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("channel file mode %v", st)
	}
	ch, err := desk.ParseChannelConfig(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the desk refuses setup's channel JSON: %v\n%s", err, raw)
	}
	if strings.Contains(out+errs, ch.AppSecret) {
		t.Fatal("the secret reached the terminal although --out was given")
	}

	// The desk adds the channel; doctor checks it with its own secret.
	data := filepath.Join(dir, "data")
	if c, _, e := tamlinkEnv(t, nil, "channel", "add", "--data", data, "--org", "Contoso", channelFile); c != 0 {
		t.Fatalf("channel add: %s", e)
	}
	ep, _ := json.Marshal(map[string]string{"loginUrl": e.LoginURL(), "stsUrl": e.STSURL(), "graphUrl": e.GraphURL()})
	os.WriteFile(filepath.Join(data, "endpoints.json"), ep, 0o600)
	code, out, errs = tamlinkEnv(t, nil, "doctor", "--data", data, "--app", ch.AppID)
	if code != 0 || !strings.Contains(out, "needs --admin") || !strings.Contains(out, "TeamsActivity.Send") {
		t.Fatalf("doctor --data: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = tamlinkEnv(t, env, "doctor", "--data", data, "--app", ch.AppID, "--admin", "--package", pkgFile)
	if code != 0 || strings.Contains(out, "skipped ") {
		t.Fatalf("doctor --data --admin: %d\n%s\n%s", code, out, errs)
	}

	// A manual edit: doctor names it (JSON for machines), setup repairs it.
	if err := e.UpdateApp(suTenant, ch.AppID, func(a *emulator.App) {
		a.RedirectURIs = a.RedirectURIs[:1]
		a.ImplicitIDTokens = true
	}); err != nil {
		t.Fatal(err)
	}
	code, out, _ = tamlinkEnv(t, env, "doctor", "--tenant", suTenant, "--app-id", ch.AppID, "--published-app-id", ch.TeamsPublishedAppID, "--json")
	var rep setup.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("doctor --json: %d %v\n%s", code, err, out)
	}
	if !rep.Has("redirect-uris", setup.Fault) || !rep.Has("implicit-grant", setup.Warning) || rep.Domain != suDomain {
		t.Fatalf("%+v", rep)
	}
	code, out, errs = tamlinkEnv(t, env, "setup", "--tenant", suTenant, "--domain", suDomain, "--name", "Contoso Desk")
	if code != 0 || !strings.Contains(errs, "redirect URI(s) added") || !strings.Contains(errs, "--new-secret") {
		t.Fatalf("repair: %d\n%s", code, errs)
	}
	if again, err := desk.ParseChannelConfig(strings.NewReader(out)); err == nil || desk.ErrorField(err) != "appSecret" || again.AppID != ch.AppID {
		t.Fatalf("re-run's channel JSON should lack the secret: %v\n%s", err, out)
	}
	if code, out, _ = tamlinkEnv(t, env, "doctor", "--tenant", suTenant, "--app-id", ch.AppID, "--package", pkgFile); code != 0 {
		t.Fatalf("after repair: %s", out)
	}

	// The package alone, against another domain.
	code, out, _ = tamlinkEnv(t, nil, "doctor", "--package", pkgFile, "--domain", "other.example.com")
	if code != 1 || !strings.Contains(out, "validDomains") {
		t.Fatalf("%d\n%s", code, out)
	}
}

func TestSetupDryRunNeedsNoSignIn(t *testing.T) {
	code, out, errs := tamlinkEnv(t, nil, "setup", "--dry-run", "--tenant", suTenant, "--domain", suDomain,
		"--register", "https://desk.example.com", "--token", "tla_do-not-print", "--org", "Contoso")
	if code != 0 {
		t.Fatalf("%d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"POST https://graph.microsoft.com/v1.0/applications", "addPassword", "appRoleAssignedTo",
		"POST https://graph.microsoft.com/v1.0/appCatalogs/teamsApps?requiresReview=false", "10 write request(s) planned", `"appSecret": "********"`} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	if strings.Contains(out+errs, "tla_do-not-print") {
		t.Fatal("the admin token was printed")
	}
	code, _, errs = tamlinkEnv(t, nil, "setup", "--tenant", "contoso", "--domain", suDomain)
	if code != 2 || !strings.Contains(errs, "tenant") {
		t.Fatalf("%d %s", code, errs)
	}
}

func TestManifestCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "app.zip")
	code, stdout, errs := tamlinkEnv(t, nil, "manifest", "--app-id", suAdmin, "--domain", "https://desk.example.com", "--out", out, "--accent-color", "#112233")
	if code != 0 || !strings.Contains(stdout, "https://desk.example.com/teams/"+suAdmin+"/workbench") {
		t.Fatalf("%d\n%s\n%s", code, stdout, errs)
	}
	raw, _ := os.ReadFile(out)
	p, err := manifest.Read(raw)
	if err != nil || len(p.Problems()) != 0 || p.Manifest.AccentColor != "#112233" {
		t.Fatalf("%v %v", err, p.Problems())
	}
	// Icons from files: checked, kept.
	icon := filepath.Join(dir, "outline.png")
	os.WriteFile(icon, p.Color, 0o644) // a 192×192 colour icon is no outline icon
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"--name", strings.Repeat("n", 31)}, "name"},
		{[]string{"--outline-icon", icon}, "outline-icon"},
		{[]string{"--color-icon", filepath.Join(dir, "missing.png")}, "color-icon"},
		{[]string{"--website", "http://example.com"}, "website"},
		{[]string{"--version", "1.0"}, "version"},
		{[]string{"--domain", "login.microsoftonline.com"}, "domain"},
	} {
		target := filepath.Join(dir, "bad.zip")
		args := append([]string{"manifest", "--app-id", suAdmin, "--domain", suDomain, "--out", target}, tc.args...)
		code, _, errs := tamlinkEnv(t, nil, args...)
		if code != 2 || !strings.HasPrefix(errs, "tamlink: "+tc.field+":") {
			t.Errorf("%v: %d %q", tc.args, code, errs)
		}
		if _, err := os.Stat(target); err == nil {
			t.Errorf("%v: a refused package was written", tc.args)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}
