// Package setup turns the customer side of the Teams channel guide into
// Microsoft Graph calls (tamlink setup) and checks an existing registration,
// service principal, grants, catalog entry and package against what tamlink
// needs (tamlink doctor). Both read and write through internal/graph; the
// device-code sign-in of an admin is in signin.go.
package setup

import (
	"strings"

	"github.com/tamlink/tamlink/internal/desk"
)

// ScopeName is the delegated permission the Teams tab asks for.
const ScopeName = "access_as_user"

// The guide's consent texts for access_as_user (section 3.1, step 5).
const (
	AdminConsentDisplayName = "Teams can access the app's Web APIs"
	AdminConsentDescription = "Allows Teams to call the app's Web APIs as the current user"
	UserConsentDisplayName  = "Teams can access the app's Web APIs and make requests on your behalf"
	UserConsentDescription  = "Allows Teams to call this app's Web APIs with the same permissions you have"
)

// Client is a Teams or Microsoft 365 host client that requests SSO tokens
// for the tab.
type Client struct {
	ID, Name string
}

// PreAuthorizedClients are the guide's eight clients (3.1 step 6) plus the
// host Microsoft documents besides them (Outlook mobile,
// teams-sso-and-manifest.md §1.4). Names are Microsoft's; where the guide's
// table labels an id differently, its label follows.
var PreAuthorizedClients = []Client{
	{"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Teams desktop and mobile (the guide: Teams Web)"},
	{"5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "Teams web (the guide: Teams Desktop)"},
	{"d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft 365 mobile and Outlook desktop (the guide: Microsoft Office)"},
	{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"},
	{"bc59ab01-8403-45c6-8796-ac3ef710b3e3", "Outlook web (the guide: Outlook Desktop)"},
	{"0ec893e0-5785-4de6-99da-4ed124e5296c", "Microsoft 365 desktop (the guide: Outlook Web)"},
	{"4765445b-32c6-49b0-83e6-1d93765276ca", "Microsoft 365 web (the guide: Outlook Mobile)"},
	{"4345a7b9-9a63-4910-a426-35363201d503", "Office mobile"},
	{"27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook mobile (not in the guide; Microsoft's Teams SSO documentation lists it)"},
}

// ClientName names a pre-authorized client id.
func ClientName(id string) string {
	for _, c := range PreAuthorizedClients {
		if strings.EqualFold(c.ID, id) {
			return c.Name
		}
	}
	return id
}

// Microsoft Graph permissions tamlink needs, by value. Their ids are read
// from Graph's service principal in the tenant; WellKnownGraphIDs are the
// same ids (identical in every tenant) for dry runs and as a fallback.
const (
	UserRead                    = "User.Read"
	TeamsActivitySend           = "TeamsActivity.Send"
	TeamsAppInstallationForUser = "TeamsAppInstallation.ReadWriteSelfForUser.All"
)

// NotificationRoles are the application permissions the notifier uses:
// sending activity-feed notifications and installing the app for a
// recipient who does not have it yet. Granted tenant-wide as app roles
// (not resource-specific consent in the package): an admin grants them
// once in setup, they show up in the app-only token's roles claim (so
// doctor can check them with the channel's own secret), and there is no
// RSC permission for installing the app.
var NotificationRoles = []string{TeamsActivitySend, TeamsAppInstallationForUser}

// WellKnownGraphIDs maps "Scope:value" and "Role:value" to Microsoft's ids.
var WellKnownGraphIDs = map[string]string{
	"Scope:" + UserRead:                   "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
	"Role:" + TeamsActivitySend:           "a267235f-af13-44dc-8385-c1dc93023186",
	"Role:" + TeamsAppInstallationForUser: "908de74d-f8b2-4d6b-a9ed-2a17b3b78179",
}

// Delegated Graph scopes of the admin sign-in.
var (
	// SetupScopes are what `tamlink setup` needs.
	SetupScopes = []string{"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
		"DelegatedPermissionGrant.ReadWrite.All", "AppCatalog.ReadWrite.All"}
	// ReadScopes are enough for `tamlink doctor --admin` and a dry run
	// that reads the tenant.
	ReadScopes = []string{"Application.Read.All", "DelegatedPermissionGrant.Read.All", "AppCatalog.Read.All"}
)

// DefaultPublicClientID is the Microsoft Graph Command Line Tools public
// client: every tenant has it, and it may ask for the scopes above.
const DefaultPublicClientID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"

// RedirectURIs are the guide's five web redirect URIs (3.1 step 2).
func RedirectURIs(domain, appID string) []string {
	base := "https://" + domain
	return []string{
		base + "/teams/" + appID,
		base + "/teams/" + appID + "/workbench",
		base + "/thirdparty/teams/" + appID + "/login",
		base + "/thirdparty/teams/" + appID + "/oauth2/callback",
		base + "/teams/" + appID + "/person/inviteToGroup",
	}
}

// IdentifierURI is the Application ID URI (3.1 step 5, 3.2 step 5).
func IdentifierURI(domain, appID string) string { return desk.AppIDURI(domain, appID) }

// Tag marks the registration tamlink manages for a domain, so setup finds
// it again even after a rename.
func Tag(domain string) string { return "tamlink:" + domain }

// DefaultDisplayName names a new registration.
func DefaultDisplayName(domain string) string { return "tamlink service desk (" + domain + ")" }

// SecretName is the description of the client secrets setup creates.
const SecretName = "tamlink"
