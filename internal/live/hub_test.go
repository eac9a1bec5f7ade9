package live

import (
	"encoding/json"
	"testing"

	"github.com/tamlink/tamlink/internal/desk"
)

func enc(ev desk.Event) ([]byte, error) {
	return json.Marshal(map[string]any{"type": ev.Type, "org": ev.OrgID})
}

func TestRouting(t *testing.T) {
	h := NewHub(enc, nil)
	a := h.Subscribe(nil, 1)
	b := h.Subscribe(nil, 2)
	all := h.Subscribe(nil)
	h.Publish(desk.Event{Type: "message", OrgID: 1})
	if got := len(a.C); got != 1 {
		t.Fatalf("org 1 subscriber got %d events", got)
	}
	if got := len(b.C); got != 0 {
		t.Fatalf("org 2 subscriber got another org's event")
	}
	if got := len(all.C); got != 1 {
		t.Fatalf("all-org subscriber got %d", got)
	}
	a.Close()
	a.Close()
	if h.Count(1) != 0 {
		t.Fatal("closed subscriber still counted")
	}
	h.Publish(desk.Event{Type: "message", OrgID: 1})
	if len(a.C) != 1 {
		t.Fatal("closed subscriber received")
	}
}

func TestSlowSubscriberIsCutOff(t *testing.T) {
	h := NewHub(enc, nil)
	slow := h.Subscribe(nil, 1)
	fast := h.Subscribe(nil, 1)
	for i := 0; i < BufferSize+1; i++ {
		h.Publish(desk.Event{Type: "message", OrgID: 1})
		<-fast.C
	}
	select {
	case <-slow.Done:
	default:
		t.Fatal("slow subscriber not disconnected")
	}
	if h.Count(1) != 1 {
		t.Fatalf("count = %d, want the fast one only", h.Count(1))
	}
}

func TestFilter(t *testing.T) {
	h := NewHub(enc, nil)
	s := h.Subscribe(func(ev desk.Event) bool { return ev.Type != "secret" }, 1)
	h.Publish(desk.Event{Type: "secret", OrgID: 1})
	h.Publish(desk.Event{Type: "message", OrgID: 1})
	if len(s.C) != 1 {
		t.Fatalf("filter not applied: %d events", len(s.C))
	}
}

func TestPresence(t *testing.T) {
	h := NewHub(func(desk.Event) ([]byte, error) { return nil, nil }, nil)
	if h.Connected(7) {
		t.Fatal("nobody is connected yet")
	}
	a, b := h.Present(7), h.Present(7)
	a()
	a() // releasing twice counts once
	if !h.Connected(7) {
		t.Fatal("one of two sockets is still open")
	}
	b()
	if h.Connected(7) {
		t.Fatal("all sockets closed")
	}
}
