package emulator

import (
	"net/http"
	"net/url"
	"strings"
)

// discoveryV2 mirrors Entra's v2.0 openid-configuration, field for field and
// in the same order (compare the 2024 snapshot in shared/data).
type discoveryV2 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// discoveryV1 mirrors Entra's v1 openid-configuration.
type discoveryV1 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	MicrosoftMultiRefreshToken        bool     `json:"microsoft_multi_refresh_token"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CheckSessionIframe                string   `json:"check_session_iframe"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// tenantRegion is what tenant-specific documents carry; common has null.
var tenantRegion = "NA"

// checkDiscoveryTenant answers unknown tenants with Entra's AADSTS90002 JSON.
func (e *Emulator) checkDiscoveryTenant(w http.ResponseWriter, r *http.Request) bool {
	seg := r.PathValue("tenant")
	e.mu.RLock()
	_, _, ok := e.resolveTenantLocked(seg)
	e.mu.RUnlock()
	if !ok {
		e.writeAADError(w, r, errTenantNotFound(seg, http.StatusBadRequest, "invalid_tenant"))
		return false
	}
	return true
}

// discoveryNames returns the path segment to use in endpoint URLs, the
// tenant ID for issuers ("{tenantid}" template for common/organizations) and
// the region value.
func (e *Emulator) discoveryNames(r *http.Request) (seg, tid string, region *string, ok bool) {
	seg = r.PathValue("tenant")
	e.mu.RLock()
	t, kind, ok := e.resolveTenantLocked(seg)
	e.mu.RUnlock()
	if !ok {
		return "", "", nil, false
	}
	if kind != tenantSpecific {
		return lower(seg), "{tenantid}", nil, true
	}
	// Entra answers a domain-addressed document with GUID-based URLs.
	return t.ID, t.ID, &tenantRegion, true
}

// graphHost is msgraph_host: Microsoft's value is a bare host name; the
// emulator's Graph lives under a path, so it is host+path without scheme.
func (e *Emulator) graphHost() string {
	u, err := url.Parse(e.graph)
	if err != nil {
		return "graph.microsoft.com"
	}
	return u.Host + strings.TrimRight(u.Path, "/")
}

func (e *Emulator) handleDiscoveryV2(w http.ResponseWriter, r *http.Request) {
	seg, tid, region, ok := e.discoveryNames(r)
	if !ok {
		e.checkDiscoveryTenant(w, r)
		return
	}
	base := e.login + "/" + seg
	writeDiscoveryJSON(w, discoveryV2{
		TokenEndpoint:                     base + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           base + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            e.login + "/" + tid + "/v2.0",
		RequestURIParameterSupported:      false,
		UserinfoEndpoint:                  e.graph + "/oidc/userinfo",
		AuthorizationEndpoint:             base + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       base + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                base + "/oauth2/v2.0/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		KerberosEndpoint:   base + "/kerberos",
		TenantRegionScope:  region,
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        e.graphHost(),
		RBACURL:            "https://pas.windows.net",
	})
}

func (e *Emulator) handleDiscoveryV1(w http.ResponseWriter, r *http.Request) {
	seg, tid, region, ok := e.discoveryNames(r)
	if !ok {
		e.checkDiscoveryTenant(w, r)
		return
	}
	base := e.login + "/" + seg
	jwksSeg := seg
	if tid == "{tenantid}" {
		jwksSeg = "common"
	}
	writeDiscoveryJSON(w, discoveryV1{
		TokenEndpoint:                     base + "/oauth2/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           e.login + "/" + jwksSeg + "/discovery/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "token id_token", "token"},
		ScopesSupported:                   []string{"openid"},
		Issuer:                            e.sts + "/" + tid + "/",
		MicrosoftMultiRefreshToken:        true,
		AuthorizationEndpoint:             base + "/oauth2/authorize",
		DeviceAuthorizationEndpoint:       base + "/oauth2/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                base + "/oauth2/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name",
			"nickname"},
		CheckSessionIframe: base + "/oauth2/checksession",
		UserinfoEndpoint:   base + "/openid/userinfo",
		KerberosEndpoint:   base + "/kerberos",
		TenantRegionScope:  region,
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        e.graphHost(),
		RBACURL:            "https://pas.windows.net",
	})
}
