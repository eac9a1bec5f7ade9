package emulator

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tamlink/tamlink/internal/manifest"
)

func (f *fixture) upload(token, path string, pkg []byte, contentType string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.e.GraphURL()+path, bytes.NewReader(pkg))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	return f.do(req)
}

func packageFor(t *testing.T, appID, version string, edit func(*manifest.Package)) []byte {
	t.Helper()
	p, err := manifest.Build(manifest.Options{AppID: appID, Domain: "tamlink.test", Version: version})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(p)
	}
	z, err := p.Zip()
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// zipOf writes files into a zip.
func zipOf(files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, _ := zw.Create(name)
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

func details(m map[string]any) []string {
	e, _ := m["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	var out []string
	ds, _ := inner["details"].([]any)
	for _, d := range ds {
		dm := d.(map[string]any)
		out = append(out, dm["code"].(string)+"@"+dm["target"].(string))
	}
	return out
}

func TestCatalogPublishUpdateList(t *testing.T) {
	f := newFixture(t)
	admin := f.adminToken("AppCatalog.ReadWrite.All")
	const tp = "/v1.0/appCatalogs/teamsApps"
	z := packageFor(t, appV2ID, "1.0.0", nil)
	status, body := f.upload(admin, tp, z, "application/octet-stream")
	if status != http.StatusUnsupportedMediaType {
		t.Fatalf("%d %v", status, body)
	}
	status, app := f.upload(admin, tp+"?requiresReview=false", z, "application/zip")
	if status != http.StatusCreated || app["distributionMethod"] != "organization" || app["displayName"] != manifest.DefaultShortName {
		t.Fatalf("%d %v", status, app)
	}
	id := app["id"].(string)
	if id == app["externalId"] || app["externalId"] != manifest.DefaultTeamsAppID(appV2ID) {
		t.Fatalf("ids %v", app)
	}
	// Publishing links the Entra app: sendActivityNotification knows it.
	if a, _ := f.e.App(contosoID, appV2ID); a.TeamsAppID != id || len(a.ActivityTypes) == 0 {
		t.Fatalf("link %q %v", a.TeamsAppID, a.ActivityTypes)
	}
	status, body = f.upload(admin, tp, z, "application/zip")
	wantGraphError(t, status, body, http.StatusConflict, "Conflict", "already exists")
	status, body = f.upload(admin, tp+"/"+id+"/appDefinitions", z, "application/zip")
	wantGraphError(t, status, body, http.StatusBadRequest, "BadRequest", "greater than the current version 1.0.0")
	status, def := f.upload(admin, tp+"/"+id+"/appDefinitions?requiresReview=true", packageFor(t, appV2ID, "1.0.1", nil), "application/zip")
	if status != http.StatusCreated || def["version"] != "1.0.1" || def["publishingState"] != "submitted" {
		t.Fatalf("%d %v", status, def)
	}
	status, body = f.upload(admin, tp+"/"+id+"/appDefinitions", packageFor(t, appV1ID, "2.0.0", nil), "application/zip")
	wantGraphError(t, status, body, http.StatusBadRequest, "BadRequest", "does not match")

	status, list, _ := f.call(admin, "GET", tp+"?$filter="+url.QueryEscape("externalId eq '"+manifest.DefaultTeamsAppID(appV2ID)+"'")+"&$expand=appDefinitions", nil)
	v := list["value"].([]any)
	if status != 200 || len(v) != 1 {
		t.Fatalf("%d %v", status, list)
	}
	defs := v[0].(map[string]any)["appDefinitions"].([]any)
	if len(defs) != 2 || defs[0].(map[string]any)["publishingState"] != "published" || defs[1].(map[string]any)["version"] != "1.0.1" {
		t.Fatalf("definitions %v", defs)
	}
	// An admin approves the submitted version.
	status, approved, _ := f.call(admin, "PATCH", tp+"/"+id+"/appDefinitions/"+def["id"].(string), map[string]any{"publishingState": "published"})
	if status != 200 || approved["publishingState"] != "published" {
		t.Fatalf("%d %v", status, approved)
	}
	_, list, _ = f.call(admin, "GET", tp+"?$filter="+url.QueryEscape("id eq '"+id+"'"), nil)
	if v := list["value"].([]any); len(v) != 1 || v[0].(map[string]any)["appDefinitions"] != nil {
		t.Fatalf("without $expand: %v", list)
	}
	if got := f.e.TeamsApps(contosoID); len(got) != 1 || len(got[0].Versions) != 2 || !json.Valid(got[0].Versions[1].Manifest) {
		t.Fatalf("%+v", got)
	}
	if status, _, _ = f.call(admin, "DELETE", tp+"/"+id, nil); status != http.StatusNoContent {
		t.Fatal(status)
	}
	if a, _ := f.e.App(contosoID, appV2ID); a.TeamsAppID != "" {
		t.Fatal("deleting the catalog app left the link")
	}
}

func TestCatalogRefusesBrokenPackages(t *testing.T) {
	f := newFixture(t)
	admin := f.adminToken("AppCatalog.Submit")
	good := packageFor(t, appV2ID, "1.0.0", nil)
	p, _ := manifest.Read(good)
	manifestWith := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(p.ManifestJSON(), &m)
		edit(m)
		raw, _ := json.Marshal(m)
		return zipOf(map[string][]byte{"manifest.json": raw, "color.png": p.Color, "outline.png": p.Outline})
	}
	for name, tc := range map[string]struct {
		pkg  []byte
		want string
	}{
		"not a zip":            {[]byte("PK nope"), "InvalidZipFile@package"},
		"no manifest":          {zipOf(map[string][]byte{"color.png": p.Color}), "ManifestNotFound@manifest.json"},
		"manifest in a folder": {zipOf(map[string][]byte{"app/manifest.json": p.ManifestJSON()}), "ManifestNotFound@manifest.json"},
		"bad json":             {zipOf(map[string][]byte{"manifest.json": []byte("{")}), "InvalidJson@manifest.json"},
		"no outline icon":      {zipOf(map[string][]byte{"manifest.json": p.ManifestJSON(), "color.png": p.Color}), "IconNotFound@icons.outline"},
		"id not a GUID":        {manifestWith(func(m map[string]any) { m["id"] = "my-app" }), "SchemaError_Pattern@id"},
		"not semver":           {manifestWith(func(m map[string]any) { m["version"] = "1.0" }), "InvalidVersion@version"},
		"no short name":        {manifestWith(func(m map[string]any) { delete(m["name"].(map[string]any), "short") }), "SchemaError_Required@name.short"},
		"swapped icons":        {manifestWith(func(m map[string]any) { m["icons"] = map[string]any{"color": "outline.png", "outline": "color.png"} }), "InvalidIconSize@icons.color"},
		"scheme in domain":     {manifestWith(func(m map[string]any) { m["validDomains"] = []any{"https://tamlink.test"} }), "InvalidValidDomain@validDomains[0]"},
	} {
		status, body := f.upload(admin, "/v1.0/appCatalogs/teamsApps", tc.pkg, "application/zip")
		code, _ := graphErrorOf(body)
		if status != http.StatusBadRequest || code != "BadRequest" || !slices.Contains(details(body), tc.want) {
			t.Errorf("%s: %d %v, want detail %s", name, status, body, tc.want)
		}
		inner := body["error"].(map[string]any)["innerError"].(map[string]any)
		if inner["code"] != "UnableToParseTeamsAppManifest" {
			t.Errorf("%s: inner code %v", name, inner["code"])
		}
	}
	if len(f.e.TeamsApps(contosoID)) != 0 {
		t.Fatal("a refused package reached the catalog")
	}
	if !strings.Contains(string(good), "manifest.json") {
		t.Fatal("sanity")
	}
}
