package setup

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Placeholders a dry run shows for ids Entra or Graph would assign.
const (
	placeholderAppGUID   = "00000000-0000-0000-0000-000000000000"
	placeholderTeamsGUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
)

// DryRunTransport is the HTTP transport of a dry run. Every write is printed
// (method, URL, headers that matter, body; secrets masked; an app package
// as its file list and manifest) and answered with a placeholder, so the
// plan continues as if it had been sent. Reads go to Next — the tenant,
// after a read-only sign-in — or, when Next is nil, are answered as an
// empty tenant would answer them (plus Microsoft Graph's well-known
// permission ids), which plans a first setup without signing in at all.
type DryRunTransport struct {
	Next http.RoundTripper
	Out  io.Writer

	mu sync.Mutex
	n  int
}

// Requests returns how many writes were printed.
func (d *DryRunTransport) Requests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

func (d *DryRunTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	placeholder := strings.Contains(req.URL.Path, "{") || strings.Contains(req.URL.RawQuery, "%7B") || strings.Contains(req.URL.RawQuery, "{")
	if req.Method == http.MethodGet {
		if d.Next != nil && !placeholder {
			req.Body = nil
			resp, err := d.Next.RoundTrip(req)
			if err == nil {
				fmt.Fprintf(d.Out, "      read: GET %s → %d\n", displayURL(req), resp.StatusCode)
			}
			return resp, err
		}
		fmt.Fprintf(d.Out, "      read: GET %s (not sent: answered as a tenant without tamlink's objects)\n", displayURL(req))
		return d.emptyTenant(req)
	}
	d.mu.Lock()
	d.n++
	n := d.n
	d.mu.Unlock()
	fmt.Fprintf(d.Out, "\n>>> request %d: %s %s\n", n, req.Method, displayURL(req))
	ct := req.Header.Get("Content-Type")
	if ct != "" {
		fmt.Fprintf(d.Out, "Content-Type: %s\n", ct)
	}
	fmt.Fprintf(d.Out, "Authorization: Bearer ********\n")
	if len(body) > 0 {
		fmt.Fprintf(d.Out, "\n%s\n", describeBody(ct, body))
	}
	return d.answer(req, body)
}

// describeBody renders a request body for the plan.
func describeBody(ct string, body []byte) string {
	if strings.HasPrefix(ct, "application/zip") {
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return fmt.Sprintf("<zip, %d bytes, unreadable: %v>", len(body), err)
		}
		var names []string
		var manifest []byte
		for _, f := range zr.File {
			names = append(names, fmt.Sprintf("%s (%d bytes)", f.Name, f.UncompressedSize64))
			if f.Name == "manifest.json" {
				if rc, err := f.Open(); err == nil {
					manifest, _ = io.ReadAll(rc)
					rc.Close()
				}
			}
		}
		s := fmt.Sprintf("<Teams app package, %d bytes: %s>\nmanifest.json:\n%s", len(body), strings.Join(names, ", "), manifest)
		s = strings.ReplaceAll(s, placeholderAppGUID, "{appId}")
		return strings.ReplaceAll(s, placeholderTeamsGUID, "{teams-app-id}")
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return string(body)
	}
	if !mask(v) {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			return buf.String() // as sent, members in the order sent
		}
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

// mask hides secret values anywhere in a JSON value; it reports whether
// it hid any.
func mask(v any) bool {
	hid := false
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch strings.ToLower(k) {
			case "secrettext", "appsecret", "client_secret", "password":
				if s, ok := val.(string); ok && s != "" {
					x[k] = "********"
					hid = true
				}
			default:
				hid = mask(val) || hid
			}
		}
	case []any:
		for _, e := range x {
			hid = mask(e) || hid
		}
	}
	return hid
}

func jsonResponse(req *http.Request, status int, v any) (*http.Response, error) {
	var data []byte
	if v != nil {
		data, _ = json.Marshal(v)
	}
	h := http.Header{}
	if v != nil {
		h.Set("Content-Type", "application/json")
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: io.NopCloser(bytes.NewReader(data)), ContentLength: int64(len(data)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// emptyTenant answers a read as a tenant without tamlink's objects.
func (d *DryRunTransport) emptyTenant(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	last := path[strings.LastIndex(path, "/")+1:]
	filter := req.URL.Query().Get("$filter")
	switch {
	case last == "servicePrincipals" && strings.Contains(filter, "00000003-0000-0000-c000-000000000000"):
		sp := map[string]any{"id": "{microsoft-graph-service-principal-id}", "appId": "00000003-0000-0000-c000-000000000000",
			"displayName": "Microsoft Graph", "oauth2PermissionScopes": []any{}, "appRoles": []any{}}
		for name, id := range WellKnownGraphIDs {
			kind, value, _ := strings.Cut(name, ":")
			if kind == "Role" {
				sp["appRoles"] = append(sp["appRoles"].([]any), map[string]any{"id": id, "value": value, "isEnabled": true, "allowedMemberTypes": []string{"Application"}})
			} else {
				sp["oauth2PermissionScopes"] = append(sp["oauth2PermissionScopes"].([]any), map[string]any{"id": id, "value": value, "isEnabled": true, "type": "User"})
			}
		}
		return jsonResponse(req, http.StatusOK, map[string]any{"value": []any{sp}})
	case last == "applications" || last == "servicePrincipals" || last == "oauth2PermissionGrants" || last == "teamsApps" ||
		last == "appRoleAssignments" || last == "appRoleAssignedTo":
		return jsonResponse(req, http.StatusOK, map[string]any{"value": []any{}})
	}
	return jsonResponse(req, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "Request_ResourceNotFound",
		"message": "dry run: the object does not exist yet"}})
}

// answer invents the reply to a write.
func (d *DryRunTransport) answer(req *http.Request, body []byte) (*http.Response, error) {
	if req.Method != http.MethodPost {
		return jsonResponse(req, http.StatusNoContent, nil)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	if m == nil {
		m = map[string]any{}
	}
	path := req.URL.Path
	switch {
	case strings.HasSuffix(path, "/applications"):
		m["id"], m["appId"] = "{application-object-id}", "{appId}"
		return jsonResponse(req, http.StatusCreated, m)
	case strings.HasSuffix(path, "/addPassword"):
		pc, _ := m["passwordCredential"].(map[string]any)
		out := map[string]any{"keyId": "{secret-key-id}", "hint": "{se", "secretText": "{client-secret}"}
		if pc != nil {
			out["displayName"], out["endDateTime"] = pc["displayName"], pc["endDateTime"]
		}
		return jsonResponse(req, http.StatusOK, out)
	case strings.HasSuffix(path, "/servicePrincipals"):
		m["id"] = "{service-principal-id}"
		return jsonResponse(req, http.StatusCreated, m)
	case strings.HasSuffix(path, "/appRoleAssignedTo"):
		m["id"] = "{app-role-assignment-id}"
		return jsonResponse(req, http.StatusCreated, m)
	case strings.HasSuffix(path, "/oauth2PermissionGrants"):
		m["id"] = "{grant-id}"
		return jsonResponse(req, http.StatusCreated, m)
	case strings.HasSuffix(path, "/appCatalogs/teamsApps"):
		return jsonResponse(req, http.StatusCreated, map[string]any{"id": "{catalog-app-id}", "distributionMethod": "organization"})
	case strings.HasSuffix(path, "/appDefinitions"):
		return jsonResponse(req, http.StatusCreated, map[string]any{"id": "{app-definition-id}", "publishingState": "published"})
	}
	return jsonResponse(req, http.StatusNoContent, nil)
}

// displayURL is the request URL with its path unescaped, so placeholders
// read as {application-object-id} rather than %7B…%7D.
func displayURL(req *http.Request) string {
	u := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	if req.URL.RawQuery != "" {
		u += "?" + req.URL.RawQuery
	}
	u = strings.ReplaceAll(u, placeholderAppGUID, "{appId}")
	return strings.ReplaceAll(u, placeholderTeamsGUID, "{teams-app-id}")
}
