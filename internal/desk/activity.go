package desk

// ActivityType is a Teams activity-feed notification type. The app package
// declares each one (manifest activities.activityTypes) and the notifier
// sends only these; Graph refuses undeclared types.
type ActivityType struct {
	Type         string // ≤ 64 characters, the manifest's activityTypes[].type
	Description  string // ≤ 128
	TemplateText string // ≤ 128; {actor} and the template parameters are filled by Teams
}

// ActivityTypes are all the notification kinds tamlink sends to Teams.
var ActivityTypes = []ActivityType{
	{"ticketCreated", "A support ticket was opened", "{actor} opened ticket {ticketTitle}"},
	{"ticketComment", "The desk commented on a ticket", "{actor} commented on {ticketTitle}"},
	{"ticketStatusChanged", "A ticket's status changed", "{ticketTitle} is now {status}"},
	{"ticketSeverityChanged", "A ticket's severity changed", "{ticketTitle} is now {severity}"},
	{"ticketAssigned", "A ticket was assigned", "{ticketTitle} was assigned to {assignee}"},
	{"slaWarning", "A ticket is close to its response target", "{ticketTitle} is due for a response {due}"},
	{"deskReply", "The desk replied in your service group", "{actor} replied in your service group"},
}
