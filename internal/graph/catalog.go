package graph

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The tenant's Teams app catalog (graph-api.md section 2). Publishing and
// updating need a delegated token; there is no application permission.

// TeamsApp is an app of the org catalog. ID is what Teams and Graph use
// afterwards (installs, notifications: the channel's teamsPublishedAppId);
// ExternalID is the manifest id.
type TeamsApp struct {
	ID                 string               `json:"id"`
	ExternalID         string               `json:"externalId"`
	DisplayName        string               `json:"displayName"`
	DistributionMethod string               `json:"distributionMethod"`
	AppDefinitions     []TeamsAppDefinition `json:"appDefinitions,omitempty"`
}

// TeamsAppDefinition is one version of a catalog app.
type TeamsAppDefinition struct {
	ID               string `json:"id"`
	TeamsAppID       string `json:"teamsAppId"`
	DisplayName      string `json:"displayName"`
	Version          string `json:"version"`
	PublishingState  string `json:"publishingState"` // submitted, published, rejected
	ShortDescription string `json:"shortDescription"`
	Description      string `json:"description"`
	// Authorization.ClientAppID is the Entra app of webApplicationInfo.
	Authorization struct {
		ClientAppID string `json:"clientAppId"`
	} `json:"authorization"`
}

// Latest returns the newest definition (Graph lists them oldest first), or
// nil.
func (a *TeamsApp) Latest() *TeamsAppDefinition {
	if len(a.AppDefinitions) == 0 {
		return nil
	}
	return &a.AppDefinitions[len(a.AppDefinitions)-1]
}

func (c *Client) teamsApps(ctx context.Context, filter string) (*TeamsApp, error) {
	var out list[TeamsApp]
	err := c.Do(ctx, http.MethodGet, "/v1.0/appCatalogs/teamsApps"+Query("$filter", filter, "$expand", "appDefinitions"), nil, &out)
	if err != nil || len(out.Value) == 0 {
		return nil, err
	}
	return &out.Value[0], nil
}

// TeamsAppByExternalID finds the catalog app of a manifest id (nil if none).
func (c *Client) TeamsAppByExternalID(ctx context.Context, externalID string) (*TeamsApp, error) {
	return c.teamsApps(ctx, "externalId eq "+Quote(externalID))
}

// TeamsAppByID finds a catalog app by its catalog id (nil if none).
func (c *Client) TeamsAppByID(ctx context.Context, id string) (*TeamsApp, error) {
	return c.teamsApps(ctx, "id eq "+Quote(id))
}

// TeamsAppByClientAppID finds the org catalog app whose package names Entra
// app appID in webApplicationInfo (nil if none): how a package uploaded
// by hand, with a manifest id of its own, is found.
func (c *Client) TeamsAppByClientAppID(ctx context.Context, appID string) (*TeamsApp, error) {
	var out list[TeamsApp]
	err := c.Do(ctx, http.MethodGet, "/v1.0/appCatalogs/teamsApps"+Query("$filter", "distributionMethod eq 'organization'", "$expand", "appDefinitions"), nil, &out)
	if err != nil {
		return nil, err
	}
	for i, a := range out.Value {
		if l := a.Latest(); l != nil && strings.EqualFold(l.Authorization.ClientAppID, appID) {
			return &out.Value[i], nil
		}
	}
	return nil, nil
}

// PublishTeamsApp uploads an app package to the org catalog. With
// requiresReview false an admin publishes at once.
func (c *Client) PublishTeamsApp(ctx context.Context, zip []byte, requiresReview bool) (TeamsApp, error) {
	var out TeamsApp
	err := c.Do(ctx, http.MethodPost, "/v1.0/appCatalogs/teamsApps?requiresReview="+strconv.FormatBool(requiresReview),
		Raw{Data: zip, ContentType: "application/zip"}, &out)
	return out, err
}

// UpdateTeamsApp uploads a new version of catalog app id.
func (c *Client) UpdateTeamsApp(ctx context.Context, id string, zip []byte, requiresReview bool) (TeamsAppDefinition, error) {
	var out TeamsAppDefinition
	err := c.Do(ctx, http.MethodPost, "/v1.0/appCatalogs/teamsApps/"+url.PathEscape(id)+"/appDefinitions?requiresReview="+strconv.FormatBool(requiresReview),
		Raw{Data: zip, ContentType: "application/zip"}, &out)
	return out, err
}
