package emulator

// The Teams app catalog of each tenant (Graph /appCatalogs/teamsApps):
// publish an app package, update it with a new definition, list with
// $filter and $expand=appDefinitions, approve a submitted definition,
// delete. Uploads go through the checks Teams applies to a package
// (zip layout, manifest.json, required fields, GUID id, semver version,
// both icons present with their sizes) with the error shape Graph
// documents (BadRequest / UnableToParseTeamsAppManifest with details).

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// catalogRoutes registers the app catalog API.
func (e *Emulator) catalogRoutes(m *http.ServeMux) {
	const v = "/graph/v1.0/appCatalogs/teamsApps"
	m.HandleFunc("GET "+v, e.gx(e.listTeamsApps))
	m.HandleFunc("POST "+v, e.gx(e.publishTeamsApp))
	m.HandleFunc("DELETE "+v+"/{id}", e.gx(e.deleteTeamsApp))
	m.HandleFunc("POST "+v+"/{id}/appDefinitions", e.gx(e.updateTeamsApp))
	m.HandleFunc("PATCH "+v+"/{id}/appDefinitions/{def}", e.gx(e.reviewTeamsApp))
}

var (
	catalogSubmit = []string{"AppCatalog.Submit", "AppCatalog.ReadWrite.All", "Directory.ReadWrite.All"}
	catalogRead   = []string{"AppCatalog.Submit", "AppCatalog.Read.All", "AppCatalog.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	catalogAdmin  = []string{"AppCatalog.ReadWrite.All", "Directory.ReadWrite.All"}
)

type teamsApp struct {
	id, externalID, displayName string
	defs                        []*teamsAppDef
}

type teamsAppDef struct {
	id, teamsAppID, displayName, version, shortDescription, description, state string
	modified                                                                   time.Time
	pkg, manifest                                                              []byte
	entraAppID                                                                 string
	activityTypes                                                              []string
}

// linkLocked records the published definition on the Entra app its
// webApplicationInfo names (App.TeamsAppID, App.ActivityTypes), which is
// what sendActivityNotification and installedApps consult.
func (e *Emulator) linkLocked(tenantID string, a *teamsApp) {
	t := e.tenants[tenantID]
	var pub *teamsAppDef
	for _, d := range a.defs {
		if d.state == "published" {
			pub = d
		}
	}
	if t == nil || pub == nil || pub.entraAppID == "" {
		return
	}
	if app := t.apps[pub.entraAppID]; app != nil {
		app.TeamsAppID = a.id
		app.ActivityTypes = slices.Clone(pub.activityTypes)
	}
}

// CatalogApp is a Teams app in a tenant's org catalog.
type CatalogApp struct {
	ID          string // teamsApp.id (what notifications and installs use)
	ExternalID  string // the manifest id
	DisplayName string
	Versions    []CatalogVersion // oldest first
}

// CatalogVersion is one uploaded definition.
type CatalogVersion struct {
	ID              string
	Version         string
	PublishingState string // submitted, published, rejected
	Manifest        []byte // manifest.json as uploaded
	Package         []byte // the zip as uploaded
}

// TeamsApps lists a tenant's org catalog.
func (e *Emulator) TeamsApps(tenantID string) []CatalogApp {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []CatalogApp
	for _, a := range e.graphx.catalogs[lower(tenantID)] {
		ca := CatalogApp{ID: a.id, ExternalID: a.externalID, DisplayName: a.displayName}
		for _, d := range a.defs {
			ca.Versions = append(ca.Versions, CatalogVersion{ID: d.id, Version: d.version, PublishingState: d.state,
				Manifest: slices.Clone(d.manifest), Package: slices.Clone(d.pkg)})
		}
		out = append(out, ca)
	}
	return out
}

type teamsAppJSON struct {
	ID                 string            `json:"id"`
	ExternalID         string            `json:"externalId"`
	DisplayName        string            `json:"displayName"`
	DistributionMethod string            `json:"distributionMethod"`
	AppDefinitions     []teamsAppDefJSON `json:"appDefinitions,omitempty"`
}

type teamsAppDefJSON struct {
	ID                   string `json:"id"`
	TeamsAppID           string `json:"teamsAppId"`
	DisplayName          string `json:"displayName"`
	Version              string `json:"version"`
	PublishingState      string `json:"publishingState"`
	ShortDescription     string `json:"shortDescription"`
	Description          string `json:"description"`
	LastModifiedDateTime any    `json:"lastModifiedDateTime"`
	CreatedBy            any    `json:"createdBy"`
	Authorization        any    `json:"authorization"`
}

func (d *teamsAppDef) json() teamsAppDefJSON {
	return teamsAppDefJSON{ID: d.id, TeamsAppID: d.teamsAppID, DisplayName: d.displayName, Version: d.version,
		PublishingState: d.state, ShortDescription: d.shortDescription, Description: d.description,
		LastModifiedDateTime: graphTime(d.modified),
		Authorization: map[string]any{"clientAppId": nullable(d.entraAppID),
			"requiredPermissionSet": map[string]any{"resourceSpecificPermissions": []any{}}}}
}

func (a *teamsApp) json(expand bool) teamsAppJSON {
	j := teamsAppJSON{ID: a.id, ExternalID: a.externalID, DisplayName: a.displayName, DistributionMethod: "organization"}
	if expand {
		j.AppDefinitions = []teamsAppDefJSON{}
		for _, d := range a.defs {
			j.AppDefinitions = append(j.AppDefinitions, d.json())
		}
	}
	return j
}

func (e *Emulator) listTeamsApps(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if c.user == nil {
		return &graphError{http.StatusForbidden, "Forbidden", "Listing the app catalog is only supported in the user context (delegated permissions)."}
	}
	if !c.may(catalogRead, nil) {
		return errDenied()
	}
	q := r.URL.Query()
	f, ge := parseFilter(q.Get("$filter"))
	if ge != nil {
		return ge
	}
	expand := false
	switch x := q.Get("$expand"); x {
	case "":
	case "appDefinitions":
		expand = true
	default:
		return &graphError{http.StatusBadRequest, "BadRequest", "Parsing OData Select and Expand failed: Could not find a property named '" + x + "' on type 'microsoft.graph.teamsApp'."}
	}
	e.mu.RLock()
	var items []any
	for _, a := range e.graphx.catalogs[c.tenant.ID] {
		ok, ge := f.match(func(p string) (string, []string, bool) {
			switch p {
			case "id":
				return a.id, nil, true
			case "externalId":
				return a.externalID, nil, true
			case "displayName":
				return a.displayName, nil, true
			case "distributionMethod":
				return "organization", nil, true
			}
			return "", nil, false
		})
		if ge != nil {
			e.mu.RUnlock()
			return ge
		}
		if ok {
			items = append(items, a.json(expand))
		}
	}
	e.mu.RUnlock()
	return e.writeGraphList(w, r, "appCatalogs/teamsApps", items)
}

// pkgDetail is one finding of the package checks.
type pkgDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target"`
}

// packageInfo is what the catalog keeps of a valid package.
type packageInfo struct {
	id, version, name, short, full string
	entraAppID                     string   // webApplicationInfo.id
	activityTypes                  []string // activities.activityTypes[].type
	manifest                       []byte
}

var (
	catalogGUID   = regexp.MustCompile(`^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$`)
	catalogSemver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
)

// checkPackage applies Teams' upload checks to a package.
func checkPackage(data []byte) (packageInfo, []pkgDetail) {
	var info packageInfo
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return info, []pkgDetail{{"InvalidZipFile", "The app package is not a valid zip file.", "package"}}
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return info, []pkgDetail{{"InvalidZipFile", "Cannot read " + f.Name + ".", "package"}}
		}
		b, err := io.ReadAll(io.LimitReader(rc, 8<<20))
		rc.Close()
		if err != nil {
			return info, []pkgDetail{{"InvalidZipFile", "Cannot read " + f.Name + ".", "package"}}
		}
		files[f.Name] = b
	}
	raw, ok := files["manifest.json"]
	if !ok {
		return info, []pkgDetail{{"ManifestNotFound", "manifest.json was not found at the root of the app package.", "manifest.json"}}
	}
	var m map[string]any
	if err := json.Unmarshal(bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")), &m); err != nil {
		return info, []pkgDetail{{"InvalidJson", "Error while reading manifest.json: " + err.Error(), "manifest.json"}}
	}
	info.manifest = raw
	var ds []pkgDetail
	str := func(path string) (string, bool) {
		var cur any = m
		for _, p := range strings.Split(path, ".") {
			obj, ok := cur.(map[string]any)
			if !ok {
				return "", false
			}
			if cur, ok = obj[p]; !ok {
				return "", false
			}
		}
		s, ok := cur.(string)
		return s, ok
	}
	for _, req := range []string{"manifestVersion", "version", "id", "developer.name", "developer.websiteUrl",
		"developer.privacyUrl", "developer.termsOfUseUrl", "name.short", "description.short", "description.full",
		"icons.color", "icons.outline", "accentColor"} {
		if v, ok := str(req); !ok || strings.TrimSpace(v) == "" {
			ds = append(ds, pkgDetail{"SchemaError_Required", "Required properties are missing from object: [" + req[strings.LastIndex(req, ".")+1:] + "].", req})
		}
	}
	info.id, _ = str("id")
	info.version, _ = str("version")
	info.name, _ = str("name.short")
	info.short, _ = str("description.short")
	info.full, _ = str("description.full")
	if info.id != "" && !catalogGUID.MatchString(info.id) {
		ds = append(ds, pkgDetail{"SchemaError_Pattern", fmt.Sprintf("String %q does not match regex pattern \"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$\".", info.id), "id"})
	}
	if info.version != "" && !catalogSemver.MatchString(info.version) {
		ds = append(ds, pkgDetail{"InvalidVersion", fmt.Sprintf("Version %q is not a semantic version MAJOR.MINOR.PATCH.", info.version), "version"})
	}
	if ac, ok := str("accentColor"); ok && !regexp.MustCompile(`^#[0-9a-fA-F]{6}$`).MatchString(ac) {
		ds = append(ds, pkgDetail{"SchemaError_Pattern", fmt.Sprintf("String %q does not match regex pattern \"^#[0-9a-fA-F]{6}$\".", ac), "accentColor"})
	}
	for _, ic := range []struct {
		path string
		size int
	}{{"icons.color", 192}, {"icons.outline", 32}} {
		name, ok := str(ic.path)
		if !ok || name == "" {
			continue
		}
		b, ok := files[name]
		if !ok {
			ds = append(ds, pkgDetail{"IconNotFound", fmt.Sprintf("Failed to find icon %q file in the package.", name), ic.path})
			continue
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			ds = append(ds, pkgDetail{"InvalidIcon", fmt.Sprintf("Icon %q is not a PNG image.", name), ic.path})
		} else if cfg.Width != ic.size || cfg.Height != ic.size {
			ds = append(ds, pkgDetail{"InvalidIconSize", fmt.Sprintf("Icon %q is %dx%d; it must be %dx%d.", name, cfg.Width, cfg.Height, ic.size, ic.size), ic.path})
		}
	}
	if wai, ok := m["webApplicationInfo"].(map[string]any); ok {
		if id, _ := wai["id"].(string); !catalogGUID.MatchString(id) {
			ds = append(ds, pkgDetail{"SchemaError_Pattern", "webApplicationInfo.id must be a GUID.", "webApplicationInfo.id"})
		} else {
			info.entraAppID = lower(id)
		}
	}
	if acts, ok := m["activities"].(map[string]any); ok {
		types, _ := acts["activityTypes"].([]any)
		for _, t := range types {
			if at, ok := t.(map[string]any); ok {
				if ty, ok := at["type"].(string); ok {
					info.activityTypes = append(info.activityTypes, ty)
				}
			}
		}
	}
	if tabs, ok := m["staticTabs"].([]any); ok {
		for i, t := range tabs {
			tab, _ := t.(map[string]any)
			if cu, ok := tab["contentUrl"].(string); ok {
				if u, err := url.Parse(cu); err != nil || u.Scheme != "https" {
					ds = append(ds, pkgDetail{"InvalidUrl", "The content URL must be an https URL.", "staticTabs[" + strconv.Itoa(i) + "].contentUrl"})
				}
			}
		}
	}
	if vds, ok := m["validDomains"].([]any); ok {
		for i, v := range vds {
			if s, _ := v.(string); strings.Contains(s, "://") {
				ds = append(ds, pkgDetail{"InvalidValidDomain", fmt.Sprintf("Valid domain %q must not contain a scheme.", s), "validDomains[" + strconv.Itoa(i) + "]"})
			}
		}
	}
	return info, ds
}

// writePackageError writes Graph's manifest-validation error.
func (e *Emulator) writePackageError(w http.ResponseWriter, r *http.Request, ds []pkgDetail) {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Target+" | "+d.Message)
	}
	reqID, clientReqID := graphIDs(r)
	body := map[string]any{"error": map[string]any{
		"code": "BadRequest", "message": strings.Join(parts, "; "),
		"innerError": map[string]any{"code": "UnableToParseTeamsAppManifest", "message": strings.Join(parts, "; "),
			"details": ds, "date": e.now().UTC().Format("2006-01-02T15:04:05"),
			"request-id": reqID, "client-request-id": clientReqID}}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", reqID)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(body)
}

// readPackage reads and checks an uploaded zip; it writes the error itself
// and returns ok=false when the upload is refused.
func (e *Emulator) readPackage(w http.ResponseWriter, r *http.Request) (info packageInfo, pkg []byte, review bool, ge *graphError, ok bool) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "application/zip" {
		return info, nil, false, &graphError{http.StatusUnsupportedMediaType, "UnsupportedMediaType", "The app package must be sent with Content-Type application/zip."}, false
	}
	switch v := r.URL.Query().Get("requiresReview"); v {
	case "", "false":
	case "true":
		review = true
	default:
		return info, nil, false, &graphError{http.StatusBadRequest, "BadRequest", "Invalid value '" + v + "' for query parameter requiresReview."}, false
	}
	pkg, ge = readGraphBody(w, r, 16<<20)
	if ge != nil {
		return info, nil, false, ge, false
	}
	info, ds := checkPackage(pkg)
	if len(ds) > 0 {
		e.writePackageError(w, r, ds)
		return info, nil, false, nil, false
	}
	return info, pkg, review, nil, true
}

func (e *Emulator) publishTeamsApp(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if c.user == nil {
		return &graphError{http.StatusForbidden, "Forbidden", "Publishing to the app catalog is not supported with application permissions."}
	}
	if !c.may(catalogSubmit, nil) {
		return errDenied()
	}
	info, pkg, review, ge, ok := e.readPackage(w, r)
	if !ok {
		return ge
	}
	state := "published"
	if review {
		state = "submitted"
	}
	e.mu.Lock()
	if e.graphx.catalogs == nil {
		e.graphx.catalogs = map[string][]*teamsApp{}
	}
	cat := e.graphx.catalogs[c.tenant.ID]
	for _, a := range cat {
		if strings.EqualFold(a.externalID, info.id) {
			e.mu.Unlock()
			return &graphError{http.StatusConflict, "Conflict", "An app with the same manifest id " + info.id + " already exists in the tenant's app catalog; update it through appDefinitions."}
		}
	}
	a := &teamsApp{id: uuid.NewString(), externalID: lower(info.id), displayName: info.name}
	a.defs = append(a.defs, &teamsAppDef{id: newDefinitionID(), teamsAppID: a.id, displayName: info.name, version: info.version,
		shortDescription: info.short, description: info.full, state: state, modified: e.now(), pkg: pkg, manifest: info.manifest,
		entraAppID: info.entraAppID, activityTypes: info.activityTypes})
	e.graphx.catalogs[c.tenant.ID] = append(cat, a)
	e.linkLocked(c.tenant.ID, a)
	j := a.json(false)
	e.mu.Unlock()
	e.log.Info("emulator: teams app published", "tenant", c.tenant.ID, "id", a.id, "externalId", a.externalID, "state", state)
	w.Header().Set("Location", e.graph+"/v1.0/appCatalogs/teamsApps/"+a.id)
	return e.writeGraphValue(w, r, http.StatusCreated, "appCatalogs/teamsApps/$entity", j)
}

func newDefinitionID() string {
	// Graph's definition ids are base64 of the app id and version; any
	// opaque unique string will do.
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(uuid.NewString()+uuid.NewString()), "=")
}

func (e *Emulator) catalogAppLocked(tenantID, id string) *teamsApp {
	for _, a := range e.graphx.catalogs[tenantID] {
		if strings.EqualFold(a.id, id) {
			return a
		}
	}
	return nil
}

func errCatalogNotFound(id string) *graphError {
	return &graphError{http.StatusNotFound, "NotFound", "No app with id '" + id + "' was found in the organization's app catalog."}
}

// semverLess compares MAJOR.MINOR.PATCH strings.
func semverLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		x, _ := strconv.Atoi(pa[min(i, len(pa)-1)])
		y, _ := strconv.Atoi(pb[min(i, len(pb)-1)])
		if x != y {
			return x < y
		}
	}
	return false
}

// updateTeamsApp uploads a new definition. The manifest id must be the
// app's externalId, and — as the Teams admin center requires (unverified
// for Graph) — its version must be higher than the latest one.
func (e *Emulator) updateTeamsApp(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if c.user == nil {
		return &graphError{http.StatusForbidden, "Forbidden", "Updating an app in the catalog is not supported with application permissions."}
	}
	if !c.may(catalogSubmit, nil) {
		return errDenied()
	}
	info, pkg, review, ge, ok := e.readPackage(w, r)
	if !ok {
		return ge
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.catalogAppLocked(c.tenant.ID, r.PathValue("id"))
	switch {
	case a == nil:
		return errCatalogNotFound(r.PathValue("id"))
	case !strings.EqualFold(a.externalID, info.id):
		return &graphError{http.StatusBadRequest, "BadRequest", "The manifest id " + info.id + " does not match the app's id " + a.externalID + "."}
	}
	latest := a.defs[len(a.defs)-1]
	if !semverLess(latest.version, info.version) {
		return &graphError{http.StatusBadRequest, "BadRequest", "The app version " + info.version + " must be greater than the current version " + latest.version + "."}
	}
	state := "published"
	if review {
		state = "submitted"
	}
	d := &teamsAppDef{id: newDefinitionID(), teamsAppID: a.id, displayName: info.name, version: info.version,
		shortDescription: info.short, description: info.full, state: state, modified: e.now(), pkg: pkg, manifest: info.manifest,
		entraAppID: info.entraAppID, activityTypes: info.activityTypes}
	a.defs = append(a.defs, d)
	a.displayName = info.name
	e.linkLocked(c.tenant.ID, a)
	return e.writeGraphValue(w, r, http.StatusCreated, "appCatalogs/teamsApps('"+a.id+"')/appDefinitions/$entity", d.json())
}

func (e *Emulator) reviewTeamsApp(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if c.user == nil || !c.may(catalogAdmin, nil) {
		return errDenied()
	}
	p, ge := readProps(w, r, 64<<10, "publishingState")
	if ge != nil {
		return ge
	}
	var state string
	if ge := p.get("publishingState", "TeamsAppDefinition", &state); ge != nil {
		return ge
	}
	if state != "published" && state != "rejected" {
		return errBadRequest("publishingState must be published or rejected.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.catalogAppLocked(c.tenant.ID, r.PathValue("id"))
	if a == nil {
		return errCatalogNotFound(r.PathValue("id"))
	}
	for _, d := range a.defs {
		if d.id == r.PathValue("def") {
			if d.state != "submitted" {
				return errBadRequest("Only a submitted app definition can be reviewed.")
			}
			d.state, d.modified = state, e.now()
			e.linkLocked(c.tenant.ID, a)
			return e.writeGraphValue(w, r, http.StatusOK, "appCatalogs/teamsApps('"+a.id+"')/appDefinitions/$entity", d.json())
		}
	}
	return errCatalogNotFound(r.PathValue("def"))
}

func (e *Emulator) deleteTeamsApp(w http.ResponseWriter, r *http.Request, c *graphCaller) *graphError {
	if c.user == nil || !c.may(catalogSubmit, nil) {
		return errDenied()
	}
	e.mu.Lock()
	cat := e.graphx.catalogs[c.tenant.ID]
	n := len(cat)
	cat = slices.DeleteFunc(cat, func(a *teamsApp) bool { return strings.EqualFold(a.id, r.PathValue("id")) })
	if t := e.tenants[c.tenant.ID]; t != nil && len(cat) < n {
		for _, app := range t.apps {
			if strings.EqualFold(app.TeamsAppID, r.PathValue("id")) {
				app.TeamsAppID, app.ActivityTypes = "", nil
			}
		}
	}
	if e.graphx.catalogs != nil {
		e.graphx.catalogs[c.tenant.ID] = cat
	}
	e.mu.Unlock()
	if len(cat) == n {
		return errCatalogNotFound(r.PathValue("id"))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
