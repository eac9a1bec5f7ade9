package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.HistogramVec
	sockets  *prometheus.GaugeVec
	ssoTotal *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tamlink_http_request_duration_seconds", Help: "HTTP requests by route group, method and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		sockets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tamlink_live_connections", Help: "Open live sockets by side.",
		}, []string{"side"}),
		ssoTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tamlink_sso_total", Help: "Teams SSO exchanges by outcome.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.sockets, m.ssoTotal)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeGroup keeps label cardinality bounded: ids and app ids never become labels.
func routeGroup(path string) string {
	for _, p := range []string{"/api/tab/", "/api/admin/", "/console", "/teams/", "/thirdparty/", "/emulator/", "/static/"} {
		if strings.HasPrefix(path, p) {
			return strings.Trim(p, "/")
		}
	}
	return "other"
}

func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(routeGroup(r.URL.Path), methodLabel(r.Method), strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// methodLabel keeps client-chosen methods out of label values.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
