package manifest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tamlink/tamlink/internal/desk"
	"github.com/tamlink/tamlink/internal/manifest/schematest"
)

const (
	appID  = "3c9d6a1e-8f2b-4c7d-9e1a-2b3c4d5e6f70"
	domain = "desk.example.com"
)

func build(t *testing.T, o Options) *Package {
	t.Helper()
	if o.AppID == "" {
		o.AppID = appID
	}
	if o.Domain == "" {
		o.Domain = domain
	}
	p, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultPackagePassesOfficialSchema(t *testing.T) {
	schematest.Require(t)
	p := build(t, Options{})
	m := p.Manifest
	if err := schematest.Validate(p.ManifestJSON()); err != nil {
		t.Fatalf("official schema refuses the generated manifest:\n%v\n%s", err, p.ManifestJSON())
	}
	if ps := Problems(m); len(ps) > 0 {
		t.Fatalf("own checks: %v", ps)
	}
	if ps := ChannelProblems(m, Expectations{AppID: appID, Domain: domain}); len(ps) > 0 {
		t.Fatalf("channel checks: %v", ps)
	}
	if m.ManifestVersion != "1.30" || m.ID != DefaultTeamsAppID(appID) || m.ID == appID {
		t.Fatalf("version/id: %+v", m)
	}
	if got := m.StaticTabs[0].ContentURL; got != "https://desk.example.com/teams/"+appID+"/workbench" {
		t.Fatalf("content URL %s", got)
	}
	if m.WebApplicationInfo.ID != appID || m.WebApplicationInfo.Resource != "api://desk.example.com/"+appID {
		t.Fatalf("webApplicationInfo %+v", m.WebApplicationInfo)
	}
	if len(m.ValidDomains) != 1 || m.ValidDomains[0] != domain {
		t.Fatalf("validDomains %v", m.ValidDomains)
	}
	if len(m.Activities.ActivityTypes) != len(desk.ActivityTypes) {
		t.Fatalf("activity types %v", m.Activities.ActivityTypes)
	}
	for _, u := range []string{m.Developer.WebsiteURL, m.Developer.PrivacyURL, m.Developer.TermsOfUseURL} {
		if !strings.HasPrefix(u, "https://") {
			t.Fatalf("developer URL %s", u)
		}
	}
	if DefaultTeamsAppID(strings.ToUpper(appID)) != m.ID || DefaultTeamsAppID("4d0e7b2f-9a3c-4d8e-8f2b-3c4d5e6f7081") == m.ID {
		t.Fatal("default Teams app id is not a stable function of the app id")
	}
}

func TestZipRoundTripAndDeterminism(t *testing.T) {
	schematest.Require(t)
	p := build(t, Options{ShortName: "Contoso Desk", AccentColor: "#112233", TeamsAppID: "B5561EC9-8CAB-4AA3-8AA2-D8D7172E4311"})
	z1, err := p.Zip()
	if err != nil {
		t.Fatal(err)
	}
	z2, _ := build(t, Options{ShortName: "Contoso Desk", AccentColor: "#112233", TeamsAppID: "B5561EC9-8CAB-4AA3-8AA2-D8D7172E4311"}).Zip()
	if !bytes.Equal(z1, z2) {
		t.Fatal("the same options gave different package bytes")
	}
	q, err := Read(z1)
	if err != nil {
		t.Fatal(err)
	}
	if ps := q.Problems(); len(ps) > 0 {
		t.Fatal(ps)
	}
	if q.Manifest.ID != "b5561ec9-8cab-4aa3-8aa2-d8d7172e4311" || q.Manifest.Name.Short != "Contoso Desk" {
		t.Fatalf("%+v", q.Manifest)
	}
	if strings.Join(q.Files, ",") != "manifest.json,color.png,outline.png" {
		t.Fatalf("files %v", q.Files)
	}
	if err := schematest.Validate(q.ManifestJSON()); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidOptionsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     Options
		field string
	}{
		{"no app id", Options{AppID: " "}, "app-id"},
		{"app id not a GUID", Options{AppID: "nope"}, "app-id"},
		{"no domain", Options{AppID: appID, Domain: " "}, "domain"},
		{"http domain", Options{Domain: "http://desk.example.com"}, "domain"},
		{"domain with path", Options{Domain: "https://desk.example.com/desk"}, "domain"},
		{"wildcard domain", Options{Domain: "*.example.com"}, "domain"},
		{"single label", Options{Domain: "localhost"}, "domain"},
		{"idp domain", Options{Domain: "login.microsoftonline.com"}, "domain"},
		{"teams app id", Options{TeamsAppID: "x"}, "teams-app-id"},
		{"long short name", Options{ShortName: strings.Repeat("n", 31)}, "name"},
		{"long full name", Options{FullName: strings.Repeat("n", 101)}, "full-name"},
		{"long short description", Options{ShortDescription: strings.Repeat("d", 81)}, "description"},
		{"long developer", Options{DeveloperName: strings.Repeat("d", 33)}, "developer"},
		{"http website", Options{WebsiteURL: "http://example.com"}, "website"},
		{"relative privacy", Options{PrivacyURL: "/privacy"}, "privacy"},
		{"ftp terms", Options{TermsURL: "ftp://example.com/terms"}, "terms"},
		{"colour", Options{AccentColor: "green"}, "accent-color"},
		{"short colour", Options{AccentColor: "#fff"}, "accent-color"},
		{"not semver", Options{Version: "1.0"}, "version"},
		{"pre-release", Options{Version: "1.0.0-beta"}, "version"},
		{"leading zero", Options{Version: "1.01.0"}, "version"},
		{"colour icon not png", Options{ColorIcon: []byte("GIF89a")}, "color-icon"},
		{"colour icon size", Options{ColorIcon: encodePNG(image.NewNRGBA(image.Rect(0, 0, 100, 100)))}, "color-icon"},
		{"outline icon size", Options{OutlineIcon: ColorIcon("#000000")}, "outline-icon"},
		{"outline icon opaque", Options{OutlineIcon: solid(32, color.NRGBA{255, 255, 255, 255})}, "outline-icon"},
		{"outline icon coloured", Options{OutlineIcon: withPixel(color.NRGBA{200, 0, 0, 255})}, "outline-icon"},
		{"outline icon empty", Options{OutlineIcon: solid(32, color.NRGBA{})}, "outline-icon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.AppID == "" {
				tc.o.AppID = appID
			}
			if tc.o.Domain == "" && tc.field != "domain" {
				tc.o.Domain = domain
			}
			_, err := Build(tc.o)
			if desk.ErrorCode(err) != desk.EInvalid || desk.ErrorField(err) != tc.field {
				t.Fatalf("got %v (field %q), want an invalid %q", err, desk.ErrorField(err), tc.field)
			}
		})
	}
}

func solid(n int, c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			img.SetNRGBA(x, y, c)
		}
	}
	return encodePNG(img)
}

func withPixel(c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	img.SetNRGBA(3, 3, color.NRGBA{255, 255, 255, 255})
	img.SetNRGBA(5, 5, c)
	return encodePNG(img)
}

func TestGivenIconsAreKept(t *testing.T) {
	outline := withPixel(color.NRGBA{255, 255, 255, 128}) // half-transparent white is white
	p := build(t, Options{OutlineIcon: outline})
	if !bytes.Equal(p.Outline, outline) {
		t.Fatal("given outline icon replaced")
	}
}

func TestValidDomainRules(t *testing.T) {
	for d, ok := range map[string]bool{
		"desk.example.com":          true,
		"*.example.com":             true,
		"*.*.example.com":           true,
		"desk.example.com:8443":     true,
		"https://desk.example.com":  false,
		"desk.example.com/path":     false,
		"foo.*.example.com":         false,
		"ab*.example.com":           false,
		"*.com":                     false,
		"*":                         false,
		"*.onmicrosoft.com":         false,
		"login.microsoftonline.com": false,
		"*.microsoftonline.com":     false,
		"10.0.0.1":                  false,
		"":                          false,
		"exa_mple.com":              false,
	} {
		msg := checkHost(d, true)
		if (msg == "") != ok {
			t.Errorf("%q: ok=%v, message %q", d, ok, msg)
		}
	}
	m := build(t, Options{}).Manifest
	for i := range 17 {
		m.ValidDomains = append(m.ValidDomains, "d"+string(rune('a'+i))+".example.com")
	}
	if ps := Problems(m); len(ps) != 1 || ps[0].Field != "validDomains" {
		t.Fatalf("17+ domains: %v", ps)
	}
}

// TestOwnChecksAtLeastAsStrictAsSchema mutates a good manifest: whatever the
// official schema refuses, Problems must refuse too (so the product, which
// has no schema, never writes what Teams would refuse).
func TestOwnChecksAtLeastAsStrictAsSchema(t *testing.T) {
	schematest.Require(t)
	base := build(t, Options{}).ManifestJSON()
	mutations := map[string]func(map[string]any){
		"no version":         func(m map[string]any) { delete(m, "version") },
		"no id":              func(m map[string]any) { delete(m, "id") },
		"id not guid":        func(m map[string]any) { m["id"] = "abc" },
		"no developer":       func(m map[string]any) { delete(m, "developer") },
		"no privacy":         func(m map[string]any) { delete(obj(m, "developer"), "privacyUrl") },
		"website ftp":        func(m map[string]any) { obj(m, "developer")["websiteUrl"] = "ftp://x.example.com" },
		"long dev name":      func(m map[string]any) { obj(m, "developer")["name"] = strings.Repeat("x", 33) },
		"no short name":      func(m map[string]any) { delete(obj(m, "name"), "short") },
		"long short name":    func(m map[string]any) { obj(m, "name")["short"] = strings.Repeat("x", 31) },
		"no full desc":       func(m map[string]any) { delete(obj(m, "description"), "full") },
		"long short desc":    func(m map[string]any) { obj(m, "description")["short"] = strings.Repeat("x", 81) },
		"no icons":           func(m map[string]any) { delete(m, "icons") },
		"no outline":         func(m map[string]any) { delete(obj(m, "icons"), "outline") },
		"bad accent":         func(m map[string]any) { m["accentColor"] = "#12345" },
		"no accent":          func(m map[string]any) { delete(m, "accentColor") },
		"wrong mv":           func(m map[string]any) { m["manifestVersion"] = "1.31" },
		"tab without scopes": func(m map[string]any) { delete(tab(m), "scopes") },
		"tab team scope":     func(m map[string]any) { tab(m)["scopes"] = []any{"team"} },
		"tab http content":   func(m map[string]any) { tab(m)["contentUrl"] = "ftp://desk.example.com/x" },
		"long entity id":     func(m map[string]any) { tab(m)["entityId"] = strings.Repeat("e", 65) },
		"wai id":             func(m map[string]any) { obj(m, "webApplicationInfo")["id"] = "x" },
		"activity no text": func(m map[string]any) {
			delete(obj(m, "activities")["activityTypes"].([]any)[0].(map[string]any), "templateText")
		},
		"activity long type": func(m map[string]any) {
			obj(m, "activities")["activityTypes"].([]any)[0].(map[string]any)["type"] = strings.Repeat("t", 65)
		},
		"unknown property": func(m map[string]any) { m["colour"] = "x" },
		"version long":     func(m map[string]any) { m["version"] = strings.Repeat("1", 257) },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			mutate(m)
			data, _ := json.Marshal(m)
			schemaErr := schematest.Validate(data)
			mf, err := ParseManifest(data)
			var own []Problem
			if err == nil {
				own = Problems(mf)
			}
			if schemaErr != nil && err == nil && len(own) == 0 {
				t.Fatalf("the official schema refuses it (%v) but the own checks pass it", schemaErr)
			}
			if schemaErr == nil && (m["manifestVersion"] == "1.30") && name != "wrong mv" {
				// a mutation the schema accepts must be one the docs forbid
				if len(own) == 0 && err == nil {
					t.Fatalf("mutation %q is accepted by both; the test case is useless", name)
				}
			}
		})
	}
}

func obj(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
func tab(m map[string]any) map[string]any           { return m["staticTabs"].([]any)[0].(map[string]any) }

func TestChannelProblems(t *testing.T) {
	m := build(t, Options{}).Manifest
	m.ValidDomains = []string{"other.example.com"}
	m.WebApplicationInfo.Resource = "api://other.example.com/" + appID
	m.Activities.ActivityTypes = m.Activities.ActivityTypes[1:]
	ps := ChannelProblems(m, Expectations{AppID: appID, Domain: domain})
	fields := map[string]bool{}
	for _, p := range ps {
		fields[p.Field] = true
	}
	for _, f := range []string{"validDomains", "webApplicationInfo.resource", "activities.activityTypes"} {
		if !fields[f] {
			t.Errorf("%s not reported: %v", f, ps)
		}
	}
	// the tab's host is not in validDomains either
	if ps := Problems(m); len(ps) != 1 || ps[0].Field != "validDomains" {
		t.Fatalf("%v", ps)
	}
}

func TestReadRefusesNonPackages(t *testing.T) {
	if _, err := Read([]byte("not a zip")); desk.ErrorField(err) != "package" {
		t.Fatal(err)
	}
	p := build(t, Options{})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range map[string][]byte{ManifestFile: p.ManifestJSON(), ColorFile: p.Color} {
		w, _ := zw.Create(name)
		w.Write(data)
	}
	zw.Close()
	q, err := Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ps := q.Problems(); len(ps) == 0 || ps[0].Field != "icons.outline" {
		t.Fatalf("%v", ps)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.zip")
	if err := build(t, Options{}).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no-such-dir", "x.zip"), []byte("x"), 0o644); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "app.zip" {
		t.Fatalf("left behind: %v", entries)
	}
}
