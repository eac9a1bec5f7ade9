package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

func (g *Registration) check() error {
	u, err := url.Parse(strings.TrimSpace(g.URL))
	switch {
	case g.URL == "":
		return desk.Invalid("register", "is required: the tamlink server's URL, e.g. https://desk.example.com")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return desk.Invalid("register", "%q is not an http(s) URL of a tamlink server", g.URL)
	case strings.TrimSpace(g.Token) == "":
		return desk.Invalid("token", "is required with --register: an admin API token from `tamlink staff token --email ADMIN` (or TAMLINK_ADMIN_TOKEN)")
	case strings.TrimSpace(g.Org) == "":
		return desk.Invalid("org", "is required with --register: the customer organisation's name")
	}
	return nil
}

// endpoint is the admin API URL of the channel collection.
func (g *Registration) endpoint(expires time.Time) string {
	q := url.Values{"org": {g.Org}}
	if !expires.IsZero() {
		q.Set("secretExpires", expires.UTC().Format(time.RFC3339))
	}
	return strings.TrimRight(g.URL, "/") + "/api/admin/channels?" + q.Encode()
}

// ChannelJSON renders the guide's section 5.1 document; mask hides the
// secret (for dry runs and logs).
func ChannelJSON(c desk.ChannelConfig, mask bool) []byte {
	if mask && c.AppSecret != "" {
		c.AppSecret = "********"
	}
	data, _ := json.MarshalIndent(c, "", "  ")
	return append(data, '\n')
}

func (r *run) register(ctx context.Context) error {
	r.begin("Channel for tamlink (guide 5.1)")
	g := r.cfg.Register
	if g == nil {
		r.say("channel JSON printed below; hand it to the desk (Channels → Add channel → Teams) or run setup with --register URL --token T --org NAME")
		return nil
	}
	endpoint := g.endpoint(r.res.SecretExpires)
	body := ChannelJSON(r.res.Channel, false)
	if r.cfg.DryRun {
		r.wrote()
		fmt.Fprintf(r.out, "\n>>> request %d (to tamlink, not Graph): POST %s\nContent-Type: application/json\nAuthorization: Bearer ********\n\n%s",
			r.res.Writes, endpoint, ChannelJSON(r.res.Channel, true))
		return nil
	}
	if r.res.Channel.AppSecret == "" {
		return &StepError{Step: "register the channel", Err: fmt.Errorf("no secret to register: %s", r.res.SecretNote),
			Hint: "run setup again with --new-secret (a new secret is added; the old one keeps working until you remove it), or add the channel by hand with the secret you saved"}
	}
	hc := r.cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return &StepError{Step: "register the channel", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.Token)
	resp, err := hc.Do(req)
	if err != nil {
		return &StepError{Step: "register the channel", Err: err, Hint: "check that " + g.URL + " is the tamlink server and reachable from here"}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var answer struct {
		Error, Message, Field string
	}
	_ = json.Unmarshal(data, &answer)
	switch {
	case resp.StatusCode == http.StatusCreated:
		r.wrote()
		r.res.Registered = true
		r.say("registered at %s for organisation %q; the server stores the secret encrypted", g.URL, g.Org)
		return nil
	case resp.StatusCode == http.StatusConflict:
		return &StepError{Step: "register the channel", Err: fmt.Errorf("the server answered 409: %s", answer.Message),
			Hint: "the server already has a channel for appId " + r.res.Channel.AppID + "; to give it this new secret, remove the channel there (`tamlink channel remove`; the organisation and its history stay) and run setup with --register again"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &StepError{Step: "register the channel", Err: fmt.Errorf("the server answered %d: %s", resp.StatusCode, answer.Message),
			Hint: "mint an admin API token on the server with `tamlink staff token --data DIR --email ADMIN` and pass it with --token"}
	}
	msg := answer.Message
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	return &StepError{Step: "register the channel", Err: fmt.Errorf("the server answered %d: %s", resp.StatusCode, msg),
		Hint: "the channel JSON is printed below: add it in the console (Channels → Add channel → Teams) instead"}
}
