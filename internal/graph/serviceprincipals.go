package graph

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Service principals and app role assignments (graph-api.md 1.4, 1.5).

// GraphAppID is Microsoft Graph's application id (resourceAppId).
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// ServicePrincipal is an app's identity in a tenant.
type ServicePrincipal struct {
	ID                     string            `json:"id"`
	AppID                  string            `json:"appId"`
	DisplayName            string            `json:"displayName"`
	AppRoles               []AppRole         `json:"appRoles"`
	OAuth2PermissionScopes []PermissionScope `json:"oauth2PermissionScopes"`
}

// AppRole is an application permission a resource offers.
type AppRole struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	DisplayName        string   `json:"displayName"`
	IsEnabled          bool     `json:"isEnabled"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
}

// AppRoleAssignment grants an application permission (an app role of the
// resource) to a principal.
type AppRoleAssignment struct {
	ID            string `json:"id,omitempty"`
	AppRoleID     string `json:"appRoleId"`
	PrincipalID   string `json:"principalId"`
	ResourceID    string `json:"resourceId"`
	PrincipalType string `json:"principalType,omitempty"`
}

// RoleID returns the id of the enabled app role with value, or "".
func (sp *ServicePrincipal) RoleID(value string) string {
	for _, r := range sp.AppRoles {
		if strings.EqualFold(r.Value, value) && r.IsEnabled {
			return r.ID
		}
	}
	return ""
}

// ScopeID returns the id of the delegated permission with value, or "".
func (sp *ServicePrincipal) ScopeID(value string) string {
	for _, s := range sp.OAuth2PermissionScopes {
		if strings.EqualFold(s.Value, value) {
			return s.ID
		}
	}
	return ""
}

// ServicePrincipalByAppID finds the service principal of an app in the
// tenant; nil when there is none.
func (c *Client) ServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error) {
	var out list[ServicePrincipal]
	if err := c.Do(ctx, http.MethodGet, "/v1.0/servicePrincipals"+Query("$filter", "appId eq "+Quote(appID)), nil, &out); err != nil {
		return nil, err
	}
	if len(out.Value) == 0 {
		return nil, nil
	}
	return &out.Value[0], nil
}

// IsReplicationDelay reports Graph's answer to POST /servicePrincipals for
// an application that has not replicated yet.
func IsReplicationDelay(err error) bool {
	var ge *Error
	return errors.As(err, &ge) && ge.Status == http.StatusBadRequest &&
		strings.Contains(ge.Message, "does not reference a valid application object")
}

// CreateServicePrincipal creates the app's service principal, retrying
// while the application has not replicated.
func (c *Client) CreateServicePrincipal(ctx context.Context, appID string) (ServicePrincipal, error) {
	var sp ServicePrincipal
	for attempt := 0; ; attempt++ {
		err := c.Do(ctx, http.MethodPost, "/v1.0/servicePrincipals", map[string]string{"appId": appID}, &sp)
		if err == nil || !IsReplicationDelay(err) || attempt >= ReplicationRetries {
			return sp, err
		}
		if err := c.sleep(ctx, backoff(attempt)); err != nil {
			return sp, err
		}
	}
}

// AppRoleAssignments lists the app roles granted to service principal id.
func (c *Client) AppRoleAssignments(ctx context.Context, spID string) ([]AppRoleAssignment, error) {
	var out list[AppRoleAssignment]
	err := c.Do(ctx, http.MethodGet, "/v1.0/servicePrincipals/"+url.PathEscape(spID)+"/appRoleAssignments", nil, &out, RetryNotFound(ReplicationRetries))
	return out.Value, err
}

// AssignAppRole grants principal the app role roleID of resource (admin
// consent for an application permission).
func (c *Client) AssignAppRole(ctx context.Context, resourceSPID, principalID, roleID string) (AppRoleAssignment, error) {
	var out AppRoleAssignment
	body := AppRoleAssignment{PrincipalID: principalID, ResourceID: resourceSPID, AppRoleID: roleID}
	err := c.Do(ctx, http.MethodPost, "/v1.0/servicePrincipals/"+url.PathEscape(resourceSPID)+"/appRoleAssignedTo", body, &out, RetryNotFound(ReplicationRetries))
	return out, err
}
