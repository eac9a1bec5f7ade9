package cli

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/tamlink/tamlink/internal/entra"
)

// endpointsFile records which identity platform a data dir's server talks to,
// so that commands run beside it (channel test) use the same one — the
// emulator for a demo data dir, Microsoft otherwise.
const endpointsFile = "endpoints.json"

func saveEndpoints(dir string, ep entra.Endpoints, publicURL string) error {
	data, _ := json.MarshalIndent(map[string]string{"loginUrl": ep.LoginURL, "stsUrl": ep.STSURL, "graphUrl": ep.GraphURL, "publicUrl": publicURL}, "", "  ")
	return os.WriteFile(filepath.Join(dir, endpointsFile), data, 0o600)
}

// loadPublicURL is the public URL the data dir's server last ran with ("" if
// none is recorded): its host is the domain of api://{domain}/{appId}.
func loadPublicURL(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, endpointsFile))
	if err != nil {
		return ""
	}
	var m map[string]string
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	return m["publicUrl"]
}

func loadEndpoints(dir string, env Env) entra.Endpoints {
	ep := entra.Microsoft
	if data, err := os.ReadFile(filepath.Join(dir, endpointsFile)); err == nil {
		var m map[string]string
		if json.Unmarshal(data, &m) == nil && m["loginUrl"] != "" {
			ep = entra.Endpoints{LoginURL: m["loginUrl"], STSURL: m["stsUrl"], GraphURL: m["graphUrl"]}
		}
	}
	if v := env.Getenv("TAMLINK_LOGIN_URL"); v != "" {
		ep.LoginURL = v
	}
	if v := env.Getenv("TAMLINK_GRAPH_URL"); v != "" {
		ep.GraphURL = v
	}
	return ep
}
