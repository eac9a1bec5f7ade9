package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case n == 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			w.Write([]byte(`{"error":{"code":"TooManyRequests","message":"slow down","innerError":{"request-id":"r1"}}}`))
		case n == 2:
			w.WriteHeader(503)
		default:
			if r.Header.Get("Retry-Attempt") != "2" || r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("headers %v", r.Header)
			}
			w.Write([]byte(`{"id":"x"}`))
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	c := &Client{BaseURL: srv.URL, Token: func(context.Context) (string, error) { return "tok", nil },
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	var out struct{ ID string }
	if err := c.Do(context.Background(), "GET", "/v1.0/x", nil, &out); err != nil || out.ID != "x" {
		t.Fatalf("%v %+v", err, out)
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] < 2*time.Second {
		t.Fatalf("waits %v: want Retry-After then back-off", waits)
	}
}

func TestErrorsAndNoRetry(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(403)
		w.Write([]byte(`{"error":{"code":"Forbidden","message":"no","innerError":{"code":"accessDenied"}}}`))
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Sleep: func(context.Context, time.Duration) error { return nil }}
	err := c.Do(context.Background(), "POST", "/v1.0/x", map[string]int{"a": 1}, nil)
	ge, ok := err.(*Error)
	if !ok || ge.Status != 403 || ge.Code != "Forbidden" || ge.InnerCode != "accessDenied" || calls.Load() != 1 {
		t.Fatalf("%v (%d calls)", err, calls.Load())
	}
}

func TestReplicationDelay(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(404)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, Sleep: func(context.Context, time.Duration) error { return nil }}
	if err := c.Do(context.Background(), "GET", "/v1.0/x", nil, nil); StatusOf(err) != 404 {
		t.Fatalf("404 retried without RetryNotFound: %v", err)
	}
	calls.Store(0)
	if err := c.Do(context.Background(), "GET", "/v1.0/x", nil, nil, RetryNotFound(3)); err != nil {
		t.Fatal(err)
	}
}
