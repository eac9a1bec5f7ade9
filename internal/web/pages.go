package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/tamlink/tamlink/internal/desk"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	// time renders a <time> element; console.js shows it in the reader's
	// locale and zone, like the times it adds live (the text is the fallback).
	"time": func(t time.Time) template.HTML {
		if t.IsZero() {
			return "—"
		}
		u := t.UTC()
		return template.HTML(`<time datetime="` + u.Format(time.RFC3339) + `">` + u.Format("2006-01-02 15:04 UTC") + `</time>`)
	},
	"statuses": func() []desk.Status { return desk.Statuses },
	// change renders a timeline value for people: "in_progress" → "In progress".
	"change": func(kind desk.EventKind, v string) string {
		switch {
		case v == "":
			return "—"
		case kind == desk.EventStatus:
			return desk.Status(v).Label()
		case kind == desk.EventSeverity:
			return desk.Severity(v).Label()
		}
		return v
	},
	"severities": func() []desk.Severity { return desk.Severities },
}).ParseFS(templateFS, "templates/*.html"))

// pageData feeds every HTML template.
type pageData struct {
	Title   string
	Message string
	Result  any // callback page: the JSON handed to callback.js
	Config  any // workbench: the JSON handed to workbench.js
	Console *consoleSession
	Data    any
}

// Microsoft's Teams and Microsoft 365 hosts that may frame the tab.
var teamsFrameAncestors = []string{
	"https://teams.microsoft.com", "https://*.teams.microsoft.com", "https://teams.microsoft.us", "https://*.teams.microsoft.us",
	"https://*.skype.com", "https://*.office.com", "https://outlook.office.com", "https://outlook.office365.com",
	"https://*.microsoft365.com", "https://*.cloud.microsoft",
}

func (s *Server) csp(frameAncestors string) string {
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self' " + s.cfg.Entra.Endpoints.LoginURL + "; base-uri 'none'; object-src 'none'; frame-ancestors " + frameAncestors
}

// page renders a template into a buffer first, so a template error is a
// clean 500 rather than half a page.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name+".html", d); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", s.csp("'none'"))
		h.Set("X-Frame-Options", "DENY")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// tabFrameable marks a page as one Teams may frame.
func (s *Server) tabFrameable(w http.ResponseWriter) {
	anc := append([]string{"'self'"}, teamsFrameAncestors...)
	anc = append(anc, s.cfg.ExtraFrameAncestors...)
	w.Header().Set("Content-Security-Policy", s.csp(strings.Join(anc, " ")))
}

// validOrigins are the host origins the Teams SDK should trust besides
// Microsoft's own list: only the emulator's, and only when it is mounted.
func (s *Server) validOrigins() []string {
	if s.cfg.Emulator == nil {
		return []string{}
	}
	return append([]string{s.public.Scheme + "://" + s.public.Host}, s.cfg.ExtraFrameAncestors...)
}

type workbenchConfig struct {
	AppID        string            `json:"appId"`
	APIBase      string            `json:"apiBase"`
	LoginURL     string            `json:"loginUrl"`
	TeamsJS      bool              `json:"teamsJs"`
	ValidOrigins []string          `json:"validOrigins"`
	Invite       map[string]string `json:"invite"`
	OrgName      string            `json:"orgName"`
}

func (s *Server) workbenchPage(w http.ResponseWriter, r *http.Request, ch desk.Channel, invite map[string]string, title string) {
	s.tabFrameable(w)
	s.page(w, r, http.StatusOK, "workbench", pageData{Title: title, Config: workbenchConfig{
		AppID: ch.AppID, APIBase: "/api/tab/" + ch.AppID, LoginURL: "/thirdparty/teams/" + ch.AppID + "/login",
		TeamsJS: s.teamsJS != nil, ValidOrigins: s.validOrigins(), Invite: invite, OrgName: ch.OrgName,
	}})
}

func (s *Server) unknownApp(w http.ResponseWriter, r *http.Request) {
	s.tabFrameable(w)
	s.page(w, r, http.StatusNotFound, "message", pageData{Title: "Unknown app", Message: "No tamlink channel exists for this app id. Ask your administrator to add the channel (tamlink channel add)."})
}

// workbench is the personal tab's content URL.
func (s *Server) workbench(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channel(r)
	if err != nil {
		s.unknownApp(w, r)
		return
	}
	s.workbenchPage(w, r, ch, nil, ch.OrgName+" – service desk")
}

// appHome is the app's home: the same workbench, reachable at the shorter URL.
func (s *Server) appHome(w http.ResponseWriter, r *http.Request) { s.workbench(w, r) }

// inviteLanding is where an invited person lands: the invite is checked
// (signature, expiry, channel) before anything else, then the workbench signs
// them in and accepts it.
func (s *Server) inviteLanding(w http.ResponseWriter, r *http.Request) {
	ch, err := s.channel(r)
	if err != nil {
		s.unknownApp(w, r)
		return
	}
	q := r.URL.Query()
	if _, err := s.svc.CheckInvite(r.Context(), ch, q.Get("invite"), q.Get("exp"), q.Get("sig")); err != nil {
		s.tabFrameable(w)
		s.page(w, r, statusOf(desk.ErrorCode(err)), "message", pageData{Title: "Invite not valid", Message: desk.ErrorMessage(err)})
		return
	}
	s.workbenchPage(w, r, ch, map[string]string{"invite": q.Get("invite"), "exp": q.Get("exp"), "sig": q.Get("sig")}, "Join "+ch.OrgName)
}

// static serves the embedded scripts and styles, and the teams-js bundle
// when it is installed.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/static/")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if name == "teams-js.js" {
		if s.teamsJS == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(s.teamsJS)
		return
	}
	sub, _ := fs.Sub(assetFS, "assets")
	if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, sub, name)
}

// InviteURL is the absolute invite link for a query made by desk.Service.
func (s *Server) InviteURL(appID, query string) string {
	return s.publicURL("/teams/" + appID + "/person/inviteToGroup?" + query)
}
