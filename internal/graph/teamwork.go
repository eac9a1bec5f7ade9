package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Teams activity-feed notifications and app installation for a user
// (reference: graph-api.md sections 2.5 and 3.1). The notifier calls these
// with NoRetry: its durable queue owns retries, Retry-After and back-off.

// ActivityNotification is the body of POST /users/{id}/teamwork/sendActivityNotification.
type ActivityNotification struct {
	Topic        ActivityTopic `json:"topic"`
	ActivityType string        `json:"activityType"` // declared in the manifest's activities.activityTypes
	PreviewText  *ItemBody     `json:"previewText,omitempty"`
	// ChainID makes a later notification with the same id replace the
	// earlier one in the feed.
	ChainID            int64          `json:"chainId,omitempty"`
	TemplateParameters []KeyValuePair `json:"templateParameters,omitempty"`
	// TeamsAppID disambiguates when several installed Teams apps share the
	// Entra app id.
	TeamsAppID string `json:"teamsAppId,omitempty"`
}

// ActivityTopic is what a notification is about. With Source "text",
// WebURL is required and must be a Teams link (https://teams.microsoft.com/...).
type ActivityTopic struct {
	Source string `json:"source"` // "text" or "entityUrl"
	Value  string `json:"value"`
	WebURL string `json:"webUrl,omitempty"`
}

// ItemBody is Graph's itemBody (plain text here).
type ItemBody struct {
	Content string `json:"content"`
}

// KeyValuePair fills a {placeholder} of the activity type's template text.
type KeyValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func userPath(userID string) string { return "/v1.0/users/" + url.PathEscape(userID) + "/teamwork" }

// SendActivityNotification posts n to user userID's activity feed (app-only:
// TeamsActivity.Send). Graph answers 204; Graph's 202 for the bulk endpoint
// means accepted, not delivered, which is why tamlink does not use it.
func (c *Client) SendActivityNotification(ctx context.Context, userID string, n ActivityNotification, opts ...Option) error {
	return c.Do(ctx, http.MethodPost, userPath(userID)+"/sendActivityNotification", n, nil, opts...)
}

// InstalledApp is a teamsAppInstallation with its teamsApp expanded.
type InstalledApp struct {
	ID       string `json:"id"`
	TeamsApp struct {
		ID                 string `json:"id"`
		ExternalID         string `json:"externalId"`
		DisplayName        string `json:"displayName"`
		DistributionMethod string `json:"distributionMethod"`
	} `json:"teamsApp"`
}

// InstalledApps lists the installations of catalog app teamsAppID in the
// user's personal scope (empty when not installed).
func (c *Client) InstalledApps(ctx context.Context, userID, teamsAppID string, opts ...Option) ([]InstalledApp, error) {
	q := url.Values{"$expand": {"teamsApp"}, "$filter": {"teamsApp/id eq '" + strings.ReplaceAll(teamsAppID, "'", "''") + "'"}}
	var out struct {
		Value []InstalledApp `json:"value"`
	}
	err := c.Do(ctx, http.MethodGet, userPath(userID)+"/installedApps?"+q.Encode(), nil, &out, opts...)
	return out.Value, err
}

// InstallApp installs catalog app teamsAppID for the user (201, no body).
// A second install of the same app answers 409, which ErrAlreadyInstalled
// matches.
func (c *Client) InstallApp(ctx context.Context, userID, teamsAppID string, opts ...Option) error {
	body := map[string]string{"teamsApp@odata.bind": teamsCatalogBind + teamsAppID}
	err := c.Do(ctx, http.MethodPost, userPath(userID)+"/installedApps", body, nil, opts...)
	if StatusOf(err) == http.StatusConflict {
		return errors.Join(ErrAlreadyInstalled, err)
	}
	return err
}

// ErrAlreadyInstalled is returned by InstallApp when the app already is.
var ErrAlreadyInstalled = errors.New("graph: app already installed")

// teamsCatalogBind prefixes a catalog app id in an @odata.bind reference:
// Graph's own URL, whatever URL Graph is reached at.
const teamsCatalogBind = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/"

// DeepLink is a Teams deep link that opens a personal tab (entityID) of
// Teams app teamsAppID with subEntityID in the tab's context
// (page.subPageId), e.g. to open one ticket.
func DeepLink(teamsAppID, entityID, subEntityID string) string {
	ctx, _ := json.Marshal(map[string]string{"subEntityId": subEntityID})
	return "https://teams.microsoft.com/l/entity/" + url.PathEscape(teamsAppID) + "/" + url.PathEscape(entityID) +
		"?context=" + url.QueryEscape(string(ctx))
}
