package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamlink/tamlink/internal/cli"
	"github.com/tamlink/tamlink/internal/emulator"
)

// tamlink runs the CLI in-process and returns its exit status and output.
func tamlink(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

const (
	chApp    = "11111111-2222-4333-8444-555555555555"
	chTenant = "66666666-7777-4888-9999-aaaaaaaaaaaa"
	chPub    = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
	chSecret = "Qz8~xY.abcDEF_0123456789-secretVALUE42"
)

func channelJSON(app, secret string) string {
	return `{"appId": "` + app + `", "appSecret": "` + secret + `", "tenantId": "` + chTenant + `", "teamsPublishedAppId": "` + chPub + `"}`
}

func TestChannelCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "channel.json")
	os.WriteFile(file, []byte(channelJSON(chApp, chSecret)), 0o600)
	if code, out, errs := tamlink(t, "", "channel", "add", "--data", dir, "--org", "Northwind", file); code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	// From stdin, with upper-case GUIDs (normalised).
	second := strings.ToUpper("22222222-2222-4333-8444-555555555555")
	if code, _, errs := tamlink(t, channelJSON(second, chSecret+"2"), "channel", "add", "--data", dir, "--org", "Northwind", "-"); code != 0 {
		t.Fatalf("add from stdin: %d %s", code, errs)
	}
	code, out, _ := tamlink(t, "", "channel", "list", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("list: %d", code)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	for _, k := range []string{"appId", "tenantId", "teamsPublishedAppId", "organisation", "secretExpiresAt"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("list --json lacks %s", k)
		}
	}
	if strings.Contains(out, chSecret) || strings.Contains(strings.ToLower(out), "appsecret") {
		t.Fatal("list prints the secret")
	}
	if code, out, _ := tamlink(t, "", "channel", "show", "--data", dir, strings.ToLower(second)); code != 0 || !strings.Contains(out, "Northwind") || strings.Contains(out, chSecret) {
		t.Fatalf("show: %d %s", code, out)
	}

	// Bad input: non-zero exit naming the field, and nothing stored.
	bad := []struct{ name, doc, field string }{
		{"malformed", `{"appId": `, "config"},
		{"unknown field", `{"appId":"` + chApp + `","appSecret":"x","tenantId":"` + chTenant + `","teamsPublishedAppId":"` + chPub + `","extra":1}`, "extra"},
		{"non-GUID appId", channelJSON("not-a-guid", chSecret), "appId"},
		{"empty secret", channelJSON("33333333-2222-4333-8444-555555555555", ""), "appSecret"},
		{"secret id instead of value", channelJSON("33333333-2222-4333-8444-555555555555", "44444444-2222-4333-8444-555555555555"), "appSecret"},
		{"duplicate appId", channelJSON(chApp, chSecret), "appId"},
		{"wrong type", `{"appId": 5}`, "appId"},
		{"empty", ``, "config"},
		{"trailing", channelJSON("33333333-2222-4333-8444-555555555555", chSecret) + `{}`, "config"},
	}
	for _, b := range bad {
		code, _, errs := tamlink(t, b.doc, "channel", "add", "--data", dir, "--org", "Northwind", "-")
		if code == 0 || !strings.Contains(errs, b.field) {
			t.Errorf("%s: exit %d, stderr %q (want the field %s named)", b.name, code, errs, b.field)
		}
	}
	if code, _, errs := tamlink(t, channelJSON("33333333-2222-4333-8444-555555555555", chSecret), "channel", "add", "--data", dir, "-"); code == 0 || !strings.Contains(errs, "org") {
		t.Errorf("missing --org: %d %s", code, errs)
	}
	_, out, _ = tamlink(t, "", "channel", "list", "--data", dir, "--json")
	json.Unmarshal([]byte(out), &list)
	if len(list) != 2 {
		t.Fatalf("bad input stored something: %d channels", len(list))
	}
	if code, _, _ := tamlink(t, "", "channel", "remove", "--data", dir, second); code != 0 {
		t.Fatal("remove failed")
	}
	if code, _, _ := tamlink(t, "", "channel", "show", "--data", dir, second); code == 0 {
		t.Fatal("removed channel still shown")
	}
	assertNoPlaintext(t, dir, chSecret)
	// Each subcommand's help lists its own flags only.
	if _, _, errs := tamlink(t, "", "channel", "test", "--help"); strings.Contains(errs, "-org") || !strings.Contains(errs, "-data") {
		t.Errorf("channel test --help:\n%s", errs)
	}
	if _, _, errs := tamlink(t, "", "staff", "token", "--help"); strings.Contains(errs, "-admin") || !strings.Contains(errs, "-days") {
		t.Errorf("staff token --help:\n%s", errs)
	}
	// A mistyped --data is named as such, and nothing is created there.
	missing := filepath.Join(t.TempDir(), "typo")
	if code, _, errs := tamlink(t, "", "channel", "list", "--data", missing); code != 2 || !strings.Contains(errs, "does not exist") {
		t.Errorf("mistyped --data: %d %q", code, errs)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a mistyped --data was created")
	}
	for _, f := range []string{"tamlink.db", "secret.key"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, st.Mode())
		}
	}
}

// assertNoPlaintext scans every file under dir (database, WAL, key, …).
func assertNoPlaintext(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("plaintext secret found in %s", p)
		}
		return nil
	})
}

// TestChannelTestAndSecrecy adds a channel while the server runs on the same
// data dir, tests it against the emulator, and checks that the secret shows
// up in no file, log line, page or API response.
func TestChannelTestAndSecrecy(t *testing.T) {
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	d, err := cli.StartDemo(ctx, cli.DemoOptions{Listen: "127.0.0.1:0", Data: dir, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	must(t, d.Emulator.AddTenant(emulator.Tenant{ID: chTenant, DisplayName: "Northwind", Domain: "northwind.example"}))
	must(t, d.Emulator.AddApp(chTenant, emulator.App{AppID: chApp, Secrets: []emulator.Secret{{KeyID: "k1", Value: chSecret, EndDateTime: time.Now().Add(time.Hour)}}}))

	if code, _, errs := tamlink(t, channelJSON(chApp, chSecret), "channel", "add", "--data", dir, "--org", "Northwind", "-"); code != 0 {
		t.Fatalf("add while serving: %s", errs)
	}
	if code, out, errs := tamlink(t, "", "channel", "test", "--data", dir, chApp); code != 0 {
		t.Fatalf("test: %d %s %s", code, out, errs)
	}
	// A wrong secret is explained in the admin's terms.
	must(t, d.Emulator.SetSecrets(chTenant, chApp, []emulator.Secret{{KeyID: "k2", Value: "another~secret.value", EndDateTime: time.Now().Add(time.Hour)}}))
	code, _, errs := tamlink(t, "", "channel", "test", "--data", dir, chApp)
	if code == 0 || !strings.Contains(errs, "AADSTS7000215") || !strings.Contains(errs, "Value (not its Secret ID)") {
		t.Fatalf("test with a rotated secret: %d %s", code, errs)
	}

	// Every page and API response a staff member can see.
	staff, _ := consoleLogin(t, d)
	for _, p := range []string{"/console", "/console/channels", "/console/orgs/1", "/teams/" + chApp + "/workbench"} {
		_, body := get(t, staff, d.URL+p)
		if strings.Contains(body, chSecret) {
			t.Errorf("%s shows the secret", p)
		}
	}
	_, tok, _ := tamlink(t, "", "staff", "token", "--data", dir, "--email", d.StaffEmail)
	tok = strings.TrimSpace(tok)
	for _, p := range []string{"/api/admin/channels", "/api/admin/channels/" + chApp} {
		req, _ := http.NewRequest("GET", d.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(body), chSecret) {
			t.Errorf("%s: %d, secret shown: %v", p, resp.StatusCode, strings.Contains(string(body), chSecret))
		}
	}
	assertNoPlaintext(t, dir, chSecret)
	if strings.Contains(logs.String(), chSecret) {
		t.Fatal("the secret reached a log line")
	}
}

func TestAdminAPI(t *testing.T) {
	d := startDemo(t)
	_, tok, _ := tamlink(t, "", "staff", "token", "--data", d.Dir, "--email", d.StaffEmail)
	tok = strings.TrimSpace(tok)
	c := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, d.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("GET", "/api/admin/channels", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := do("GET", "/api/admin/channels", "tla_forged", ""); code != 401 {
		t.Fatalf("forged token: %d", code)
	}
	if code, body := do("POST", "/api/admin/channels?org=Northwind", tok, channelJSON(chApp, chSecret)); code != 201 || strings.Contains(body, chSecret) {
		t.Fatalf("add: %d %s", code, body)
	}
	if code, body := do("POST", "/api/admin/channels?org=Northwind", tok, channelJSON(chApp, chSecret)); code != 409 || !strings.Contains(body, `"field":"appId"`) {
		t.Fatalf("duplicate: %d %s", code, body)
	}
	if code, body := do("POST", "/api/admin/channels?org=Northwind", tok, `{"appId":"x"}`); code != 400 || !strings.Contains(body, `"field":"appId"`) {
		t.Fatalf("bad: %d %s", code, body)
	}
	if code, body := do("POST", "/api/admin/channels/"+chApp+"/test", tok, ""); code != 200 || !strings.Contains(body, `"ok":false`) || !strings.Contains(body, "AADSTS") {
		t.Fatalf("test of an app unknown to the emulator: %d %s", code, body)
	}
	if code, _ := do("DELETE", "/api/admin/channels/"+chApp, tok, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := do("GET", "/api/admin/channels/"+chApp, tok, ""); code != 404 {
		t.Fatalf("deleted channel: %d", code)
	}
}
