// Package testenv starts real danbao instances for tests: the whole HTTP
// handler on an httptest server, over a fresh SQLite file or a fresh
// PostgreSQL schema, and a small GraphQL client to drive it.
//
// PostgreSQL tests read the database URL from DANBAO_TEST_DATABASE_URL and
// are skipped, with the reason printed, when it is unset.
package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/auth"
	"danbao/internal/app"
	"danbao/internal/config"
	"danbao/internal/kyc"
	"danbao/internal/migrations"
	"danbao/internal/obs"
)

// PostgresEnv names the environment variable with the PostgreSQL URL.
const PostgresEnv = "DANBAO_TEST_DATABASE_URL"

// Dialect is a database engine a test runs on.
type Dialect string

// The engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ForEachDB runs f as a subtest on SQLite and on PostgreSQL (skipped with a
// printed reason when PostgreSQL is not configured).
func ForEachDB(t *testing.T, f func(t *testing.T, d Dialect)) {
	t.Helper()
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(string(d), func(t *testing.T) {
			if d == Postgres && os.Getenv(PostgresEnv) == "" {
				t.Skipf("PostgreSQL not configured: set %s to run this on PostgreSQL", PostgresEnv)
			}
			f(t, d)
		})
	}
}

// DatabaseURL returns a DATABASE_URL for a fresh, isolated database of
// dialect d ("" for SQLite, whose file goes in the data directory), dropped
// when the test ends.
func DatabaseURL(t testing.TB, d Dialect) string {
	t.Helper()
	if d != Postgres {
		return ""
	}
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL not configured: set %s", PostgresEnv)
	}
	s, err := migrations.ScratchSchemaURL(context.Background(), base)
	if err != nil {
		t.Fatalf("postgres scratch schema: %v", err)
	}
	t.Cleanup(s.Drop)
	// The scratch schema names the test's connections too, so that a test
	// counting backends (pg_stat_activity: lock waiters) counts only its
	// own, not those of other packages' tests on the same database
	// (go test ./... runs packages at once).
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", q.Get("search_path"))
	u.RawQuery = q.Encode()
	return u.String()
}

// Env is one running instance.
type Env struct {
	App     *app.App
	Server  *httptest.Server
	Dialect Dialect
	Key     *ecdsa.PrivateKey // the access-token signing key, for forging tests
	// Origin is the server's address as http://localhost:PORT: a secure
	// context for browsers, and the default WebAuthn origin (RP ID
	// localhost) of the instance.
	Origin string
	logs   *syncBuffer
}

// settings are what Options adjust.
type settings struct {
	env  map[string]string // configuration variables
	opts app.Options
}

// Option adjusts the configuration or options of an Env.
type Option func(s *settings)

// With sets one configuration variable.
func With(name, value string) Option { return func(s *settings) { s.env[name] = value } }

// WithoutRiskBursts turns risk's burst rules off (thresholds 0), for tests
// and load runs that pay in bursts by design (the other risk rules still
// run). `danbao load -serve` does the same.
func WithoutRiskBursts() Option {
	return func(s *settings) {
		for _, k := range config.RiskBurstVariables {
			s.env[k] = "0"
		}
	}
}

// WithClock gives the instance's passkey ceremonies the clock now.
func WithClock(now func() time.Time) Option { return func(s *settings) { s.opts.Now = now } }

// WithOptions lets f change the app.Options the instance is built with.
func WithOptions(f func(*app.Options)) Option { return func(s *settings) { f(&s.opts) } }

// Clock is a clock tests move forward; safe for concurrent use.
type Clock struct{ offset atomic.Int64 }

// Now is the real time plus every Advance so far.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// CheapPasswords is the argon2id cost tests use.
var CheapPasswords = auth.PasswordParams{Memory: 1024, Time: 1, Threads: 1}

// New starts an instance on dialect d.
func New(t testing.TB, d Dialect, opts ...Option) *Env {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "jwt.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	// Listen first: the WebAuthn origin names the port.
	srv := httptest.NewUnstartedServer(nil)
	origin := "http://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	st := &settings{
		env: map[string]string{
			"DANBAO_DATA_DIR":         dir,
			"DATABASE_URL":            DatabaseURL(t, d),
			"DANBAO_JWT_KEY_FILE":     keyFile,
			"DANBAO_LOG_LEVEL":        "debug",
			"DANBAO_WEBAUTHN_ORIGINS": origin,
			// Tests assert behaviour, not speed: on a loaded machine a
			// burst of contended transactions may outlast the production
			// deadline (TestRequestDeadline sets its own).
			"DANBAO_REQUEST_TIMEOUT":    "5m",
			"DANBAO_HTTP_WRITE_TIMEOUT": "6m",
		},
		opts: app.Options{PasswordParams: &CheapPasswords},
	}
	for _, o := range opts {
		o(st)
	}
	cfg, err := config.Load(func(k string) string { return st.env[k] })
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(obs.ContextHandler{Handler: slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	a, err := app.New(context.Background(), cfg, log, st.opts)
	if err != nil {
		srv.Close()
		t.Fatalf("app: %v", err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &Env{App: a, Server: srv, Dialect: d, Key: key, Origin: origin, logs: logs}
}

// Remote returns an Env that drives a danbao server already running at
// base (http://host:port), e.g. a child process, through the same GraphQL,
// WebSocket and passkey helpers; origin is its WebAuthn origin. It has no
// App: helpers that reach into the process cannot be used with it.
func Remote(base, origin string, d Dialect) *Env {
	return &Env{Server: &httptest.Server{URL: base}, Dialect: d, Origin: origin, logs: &syncBuffer{}}
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logs returns everything the instance has logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// Error is one top-level GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Response is a GraphQL response.
type Response struct {
	Status     int
	Data       json.RawMessage `json:"data"`
	Errors     []Error         `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

// Codes returns the extensions.code of every top-level error.
func (r *Response) Codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Code())
	}
	return out
}

// Decode unmarshals data into v, failing the test on top-level errors.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// Do posts a GraphQL request with an optional bearer token.
func (e *Env) Do(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return e.Post(t, token, "application/json", body)
}

// Post posts a raw body to /graphql.
func (e *Env) Post(t testing.TB, token, contentType string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.Server.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, req)
}

func (e *Env) send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	c := e.Server.Client()
	if c == nil { // a Remote server
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("status %d, body is not JSON: %q", resp.StatusCode, raw)
	}
	out.Status = resp.StatusCode
	return out
}

// Get sends a GraphQL GET request.
func (e *Env) Get(t testing.TB, token, query string) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.Server.URL+"/graphql?query="+urlEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(t, req)
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// User is a registered, signed-in test user.
type User struct {
	ID           string
	Phone        string
	Password     string
	AccessToken  string
	RefreshToken string
}

var phoneSeq atomic.Int64

// NewPhone returns a phone number not used before in this process.
func NewPhone() string { return fmt.Sprintf("+86139%08d", phoneSeq.Add(1)) }

// Register signs up a new user through the API.
func (e *Env) Register(t testing.TB) *User {
	t.Helper()
	u := &User{Phone: NewPhone(), Password: "correct horse battery"}
	r := e.Do(t, "", `mutation($in: RegisterInput!) { register(input: $in) {
		accessToken refreshToken user { id } userErrors { code message field } } }`,
		map[string]any{"in": map[string]any{"phone": u.Phone, "password": u.Password, "displayName": "Test User"}})
	var out struct {
		Register struct {
			AccessToken, RefreshToken string
			User                      struct{ ID string }
			UserErrors                []any
		}
	}
	r.Decode(t, &out)
	if len(out.Register.UserErrors) > 0 {
		t.Fatalf("register: %v", out.Register.UserErrors)
	}
	u.ID, u.AccessToken, u.RefreshToken = out.Register.User.ID, out.Register.AccessToken, out.Register.RefreshToken
	return u
}

// Operator creates an operator account (as the command line does) and
// signs it in through the API.
func (e *Env) Operator(t testing.TB) *User {
	t.Helper()
	u := &User{Phone: NewPhone(), Password: "operator password"}
	if _, err := e.App.Auth.CreateOperator(context.Background(), u.Phone, u.Password); err != nil {
		t.Fatal(err)
	}
	r := e.Do(t, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken refreshToken user { id } } }`,
		map[string]any{"in": map[string]any{"phone": u.Phone, "password": u.Password}})
	var out struct {
		Login struct {
			AccessToken, RefreshToken string
			User                      struct{ ID string }
		}
	}
	r.Decode(t, &out)
	u.ID, u.AccessToken, u.RefreshToken = out.Login.User.ID, out.Login.AccessToken, out.Login.RefreshToken
	return u
}

var idSeq atomic.Int64

// NewResidentID returns a valid PRC resident ID number (region 110105,
// correct check digit) not returned before in this process.
func NewResidentID() string {
	n := idSeq.Add(1)
	birth := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n/1000))
	first17 := fmt.Sprintf("110105%s%03d", birth.Format("20060102"), n%1000)
	d, err := kyc.CheckDigit(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(d)
}

// LegalName is the verified name RegisterVerified gives users; link cards
// in this name.
const LegalName = "Li Lei"

// Verify completes real-name verification for u through the API (the
// sandbox verifier approves at level I).
func (e *Env) Verify(t testing.TB, u *User) {
	t.Helper()
	r := e.Do(t, u.AccessToken, `mutation($in: SubmitRealNameVerificationInput!) { submitRealNameVerification(input: $in) {
		verification { status level } userErrors { code message } } }`,
		map[string]any{"in": map[string]any{"legalName": LegalName, "idType": "RESIDENT_ID", "idNumber": NewResidentID()}})
	var out struct {
		SubmitRealNameVerification struct {
			Verification struct{ Status, Level string }
			UserErrors   []any
		}
	}
	r.Decode(t, &out)
	if v := out.SubmitRealNameVerification; len(v.UserErrors) > 0 || v.Verification.Status != "VERIFIED" {
		t.Fatalf("verification: %+v", v)
	}
}

// RegisterVerified registers a user and verifies their real name.
func (e *Env) RegisterVerified(t testing.TB) *User {
	t.Helper()
	u := e.Register(t)
	e.Verify(t, u)
	return u
}
