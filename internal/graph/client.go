// Package graph is a small typed client for the few Microsoft Graph calls
// tamlink makes (app registration for setup, activity-feed notifications),
// rather than the enormous Graph SDK. This file is the core: requests,
// Graph's error envelope, and the documented retry policy (429/503/504 with
// Retry-After, else exponential back-off with jitter, bounded in count and
// total wait), modelled on Kiota's RetryHandler that the SDK uses.
package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client calls Graph. Token supplies a bearer token for each request.
type Client struct {
	BaseURL string // https://graph.microsoft.com (or the emulator's)
	HTTP    *http.Client
	Token   func(ctx context.Context) (string, error)
	// MaxRetries bounds retries of one request (default 3); MaxWait bounds
	// the total time spent waiting between them (default 180 s).
	MaxRetries int
	MaxWait    time.Duration
	// Sleep waits between retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Error is Graph's error envelope with the HTTP status.
type Error struct {
	Status     int
	Code       string
	InnerCode  string
	Message    string
	RequestID  string
	RetryAfter time.Duration // from the Retry-After header, if any
}

func (e *Error) Error() string {
	code := e.Code
	if e.InnerCode != "" && e.InnerCode != e.Code {
		code += "/" + e.InnerCode
	}
	return fmt.Sprintf("graph: %d %s: %s", e.Status, code, e.Message)
}

// StatusOf returns the HTTP status of a Graph error, or 0.
func StatusOf(err error) int {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Status
	}
	return 0
}

// Retryable reports whether Graph documents the status as worth retrying.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout || status == http.StatusInternalServerError || status == http.StatusBadGateway
}

// options of one request.
type options struct {
	retryNotFound int  // retries of a 404 (Entra replication delay just after a create)
	noRetry       bool // the caller retries durably (the notifier's queue)
	header        http.Header
}

// Option changes one request.
type Option func(*options)

// RetryNotFound retries a 404 up to n times: objects created a moment ago
// may not have replicated yet.
func RetryNotFound(n int) Option { return func(o *options) { o.retryNotFound = n } }

// NoRetry makes one attempt; the caller owns retries.
func NoRetry() Option { return func(o *options) { o.noRetry = true } }

// Header adds a request header.
func Header(k, v string) Option {
	return func(o *options) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Set(k, v)
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d or until ctx ends, whichever is first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do sends method path (relative to BaseURL, e.g. "/v1.0/applications")
// with body as JSON (or raw bytes with a content type via Raw) and decodes
// a JSON answer into out, if out is not nil.
func (c *Client) Do(ctx context.Context, method, path string, body, out any, opts ...Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var payload []byte
	contentType := ""
	switch b := body.(type) {
	case nil:
	case Raw:
		payload, contentType = b.Data, b.ContentType
	default:
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("graph: encode %s %s: %w", method, path, err)
		}
		contentType = "application/json"
	}
	maxRetries, maxWait := c.MaxRetries, c.MaxWait
	if maxRetries == 0 {
		maxRetries = 3
	}
	if maxWait == 0 {
		maxWait = 180 * time.Second
	}
	var waited time.Duration
	notFound := 0
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, method, path, payload, contentType, out, o.header, attempt)
		if err == nil || o.noRetry {
			return err
		}
		var ge *Error
		retry := false
		wait := backoff(attempt)
		switch {
		case errors.As(err, &ge) && ge.Status == http.StatusNotFound && notFound < o.retryNotFound:
			notFound++
			retry = true
		case errors.As(err, &ge) && Retryable(ge.Status) && attempt < maxRetries:
			retry = true
			if ge.RetryAfter > 0 {
				wait = ge.RetryAfter
			}
		case !errors.As(err, &ge) && ctx.Err() == nil && attempt < maxRetries && idempotent(method):
			retry = true // a network error or time-out on a request that may safely be repeated
		}
		if !retry || waited+wait > maxWait {
			return err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
		waited += wait
	}
}

// Raw is a request body sent as is (e.g. a zip for the app catalog).
type Raw struct {
	Data        []byte
	ContentType string
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodPut || method == http.MethodDelete || method == http.MethodPatch
}

// backoff is 2^attempt seconds (from 1 s) plus up to a second of jitter.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 6)
	return d + time.Duration(rand.Int64N(int64(time.Second)))
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, contentType string, out any, hdr http.Header, attempt int) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if attempt > 0 {
		req.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
	}
	if c.Token != nil {
		tok, err := c.Token(ctx)
		if err != nil {
			return fmt.Errorf("graph: token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("graph: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("graph: read %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return parseError(resp, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("graph: decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

func parseError(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Code      string `json:"code"`
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.InnerCode, e.RequestID = env.Error.Code, env.Error.Message, env.Error.InnerError.Code, env.Error.InnerError.RequestID
	} else {
		e.Code = http.StatusText(resp.StatusCode)
		e.Message = strings.TrimSpace(string(data))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("request-id")
	}
	return e
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
