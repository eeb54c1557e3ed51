package obs

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics, in a registry of their own
// (so several servers in one test process do not collide).
type Metrics struct {
	Registry     *prometheus.Registry
	HTTPRequests *prometheus.CounterVec   // by route and status code
	Operations   *prometheus.CounterVec   // GraphQL operations by operation
	Latency      *prometheus.HistogramVec // GraphQL operation latency by operation
	Errors       *prometheus.CounterVec   // GraphQL errors by operation, kind (top, user) and code
	log          *slog.Logger
}

// The kinds of GraphQL error the Errors metric tells apart.
const (
	ErrorTopLevel  = "top"  // a top-level error (errors[].extensions.code)
	ErrorUserError = "user" // a userError in a mutation payload
)

// NewMetrics registers danbao's metrics and the Go runtime collectors;
// CountHTTP logs each request to log at debug level.
func NewMetrics(log *slog.Logger) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		log:      log,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danbao_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		Operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danbao_graphql_operations_total", Help: "GraphQL operations by operation (type and root field).",
		}, []string{"operation"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "danbao_graphql_operation_seconds", Help: "GraphQL operation latency by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"operation"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "danbao_graphql_errors_total", Help: "GraphQL errors by operation, kind (top: top-level errors, user: userErrors of mutation payloads) and code.",
		}, []string{"operation", "kind", "code"}),
	}
	r.MustRegister(m.HTTPRequests, m.Operations, m.Latency, m.Errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
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

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (the
// websocket upgrade needs its Hijacker).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// CountHTTP counts requests to a route by status code and logs each one at
// debug level, through the logger given to NewMetrics (so DANBAO_LOG_LEVEL
// and DANBAO_LOG_FORMAT apply to it).
func (m *Metrics) CountHTTP(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		if m.log.Enabled(r.Context(), slog.LevelDebug) { // no arguments built when off
			m.log.DebugContext(r.Context(), "http request", "method", r.Method, "route", route,
				"status", sw.code, "duration_ms", time.Since(start).Milliseconds())
		}
	})
}
