// Package config reads danbao's configuration from the environment (the
// table in README.md, Configuration). Config is a plain struct passed to whoever needs it, never a
// package global. Every setting has a working development default, so the
// binary with no environment at all starts on an SQLite file in ./data.
package config

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"danbao/internal/money"
	"danbao/internal/vault"
)

// The deployment environments of DANBAO_ENV.
const (
	// Development is the default: every setting may keep its development
	// default (sandbox, playground, keys generated in the data directory).
	Development = "development"
	// Production refuses to start with a development default that is
	// unsafe on the open internet (see Config.productionProblems).
	Production = "production"
)

// Config is the whole configuration of one server instance.
type Config struct {
	Env         string // DANBAO_ENV: development (default) or production
	Addr        string // DANBAO_ADDR, default 127.0.0.1:8080
	DataDir     string // DANBAO_DATA_DIR, default ./data (SQLite file, development keys)
	DatabaseURL string // DATABASE_URL; empty means SQLite in DataDir
	Playground  bool   // DANBAO_PLAYGROUND; also governs introspection and field suggestions
	Sandbox     bool   // DANBAO_SANDBOX: sandbox verifier and bank gateway

	WebAuthnRPID    string        // DANBAO_WEBAUTHN_RP_ID, default localhost
	WebAuthnRPName  string        // DANBAO_WEBAUTHN_RP_NAME: the relying party's display name, default danbao
	WebAuthnOrigins []string      // DANBAO_WEBAUTHN_ORIGINS, default http://localhost:PORT; web origins and android:apk-key-hash: origins
	WebAuthnTimeout time.Duration // DANBAO_WEBAUTHN_TIMEOUT: how long a passkey challenge lives, default 5m
	CORSOrigins     []string      // DANBAO_CORS_ORIGINS; "*" allows any origin

	// AssetLinks and AppleAppSiteAssociation are served at
	// /.well-known/assetlinks.json and /.well-known/apple-app-site-association
	// so that native apps may use passkeys for the RP ID. Each comes from an
	// environment variable holding either the JSON document itself or the
	// path of a file with it; nil (not served, 404) when unset.
	AssetLinks              json.RawMessage // DANBAO_ASSETLINKS_JSON
	AppleAppSiteAssociation json.RawMessage // DANBAO_APPLE_APP_SITE_ASSOCIATION

	AuthorizationWindow  time.Duration // DANBAO_AUTHORIZATION_WINDOW, default 30m
	ShipWithin           time.Duration // DANBAO_SHIP_WITHIN, default 72h
	AutoConfirmAfter     time.Duration // DANBAO_AUTO_CONFIRM_AFTER, default 240h
	RefundAnswerWithin   time.Duration // DANBAO_REFUND_ANSWER_WITHIN, default 48h
	ConfirmExtension     time.Duration // DANBAO_CONFIRM_EXTENSION: what one extendConfirmDeadline adds, default 72h
	MaxConfirmExtensions int           // DANBAO_MAX_CONFIRM_EXTENSIONS: extensions per payment, default 2
	ProtectionWindow     time.Duration // DANBAO_PROTECTION_WINDOW: fraud claims after completion, default 720h
	FeeRateBPS           int           // DANBAO_FEE_RATE_BPS: seller fee above the free volume, basis points, default 60 (0.6%)
	FeeFreeMonthlyCNY    string        // DANBAO_FEE_FREE_MONTHLY_CNY: fee-free volume per seller and month, CNY, default 5000.00
	MaxPayment           string        // DANBAO_MAX_PAYMENT: single-payment maximum in major units of any currency, default 200000.00
	DailyLimitMaxCNY     string        // DANBAO_DAILY_LIMIT_MAX_CNY: highest daily limit a user may set on outflows (passkey payments and withdrawals), CNY, default 50000.00
	DailyLimitDefaultCNY string        // DANBAO_DAILY_LIMIT_DEFAULT_CNY: daily limit of a user who set none, CNY, at most the maximum, default 20000.00
	SchedulerInterval    time.Duration // DANBAO_SCHEDULER_INTERVAL: how often due payments are looked for, default 15s
	RiskBurstMinute      int           // DANBAO_RISK_BURST_MINUTE: a user's outflows in the last minute from which risk steps up, default 3; 0: that rule is off (so for the three below)
	RiskBurstMinuteHold  int           // DANBAO_RISK_BURST_MINUTE_HOLD: ... from which risk holds, default 10
	RiskBurstHour        int           // DANBAO_RISK_BURST_HOUR: a user's outflows in the last hour from which risk steps up, default 20
	RiskBurstHourHold    int           // DANBAO_RISK_BURST_HOUR_HOLD: ... from which risk holds, default 60

	JWTIssuer       string        // DANBAO_JWT_ISSUER, default danbao
	JWTAudience     string        // DANBAO_JWT_AUDIENCE, default danbao-api
	JWTKeyFile      string        // DANBAO_JWT_KEY_FILE: PEM P-256 private key; default DataDir/jwt-es256.pem, created on first start
	JWTPublicKeys   []string      // DANBAO_JWT_PUBLIC_KEY_FILES: retired keys still published and accepted during rotation
	AccessTokenTTL  time.Duration // DANBAO_ACCESS_TOKEN_TTL, default 15m
	RefreshTokenTTL time.Duration // DANBAO_REFRESH_TOKEN_TTL, default 720h

	// KYCKeys (DANBAO_KYC_KEYS, "1:base64,2:base64", the highest version
	// current) and KYCIndexKey (DANBAO_KYC_INDEX_KEY, base64, at least 32
	// bytes) encrypt ID numbers at rest and key their blind index. Secrets:
	// never log them. Set both or neither; with neither (development),
	// KYCKeyFile is used, created on first start.
	KYCKeys     string
	KYCIndexKey string
	KYCKeyFile  string // DataDir/kyc-keys

	MaxBodyBytes  int64 // DANBAO_MAX_BODY_BYTES, default 1 MiB
	MaxDepth      int   // DANBAO_MAX_DEPTH, default 16 (GraphiQL's introspection query needs 15)
	MaxComplexity int   // DANBAO_MAX_COMPLEXITY, default 5000 (a connection counts its selection once per entry of its page)
	MaxTokens     int   // DANBAO_MAX_TOKENS (parser token limit), default 5000
	MutationRate  int   // DANBAO_MUTATION_RATE: mutations per minute per caller (also the burst), default 120; 0 disables

	// Sign-in mutations (register, login, refreshToken, finishPasskeyLogin)
	// are counted apart from other mutations, whether or not a token is
	// sent: per phone number (login, register) and, generously, per client
	// address, so that one client behind a shared address cannot lock the
	// others out. Per minute, also the burst; 0 disables.
	SignInPhoneRate   int // DANBAO_SIGNIN_PHONE_RATE, default 10
	SignInAddressRate int // DANBAO_SIGNIN_ADDRESS_RATE, default 300

	RequestTimeout        time.Duration // DANBAO_REQUEST_TIMEOUT: deadline of one GraphQL request, default 15s
	HTTPReadHeaderTimeout time.Duration // DANBAO_HTTP_READ_HEADER_TIMEOUT, default 10s
	HTTPReadTimeout       time.Duration // DANBAO_HTTP_READ_TIMEOUT (headers and body), default 30s
	HTTPWriteTimeout      time.Duration // DANBAO_HTTP_WRITE_TIMEOUT (until the response is written), default 30s; more than RequestTimeout
	HTTPIdleTimeout       time.Duration // DANBAO_HTTP_IDLE_TIMEOUT (keep-alive), default 120s

	LogLevel  string // DANBAO_LOG_LEVEL: debug, info (default), warn, error
	LogFormat string // DANBAO_LOG_FORMAT: text (default) or json

	ShutdownTimeout time.Duration // DANBAO_SHUTDOWN_TIMEOUT, default 20s

	// DBWriters is how many write transactions one instance runs at once
	// on PostgreSQL (DANBAO_DB_WRITERS, default 4; 0: no limit). The rest
	// queue in the instance (dbtx.WithTx). SQLite always runs one.
	DBWriters int

	// DebugAddr is where the profiling listener (net/http/pprof) listens,
	// apart from the public one (DANBAO_DEBUG_ADDR, default empty: off). In
	// production it must be a loopback address unless DebugAllowRemote
	// (DANBAO_DEBUG_ALLOW_REMOTE) says otherwise.
	DebugAddr        string
	DebugAllowRemote bool

	// EventsPoll is how often an instance checks the outbox for events its
	// wake-ups missed (DANBAO_EVENTS_POLL_INTERVAL, default 1s).
	EventsPoll time.Duration
	// WebSocket subscriptions: how long a socket may wait before
	// connection_init (DANBAO_WS_INIT_TIMEOUT, default 10s), the ping
	// interval (DANBAO_WS_KEEPALIVE, default 25s), the subscriptions one
	// connection may hold (DANBAO_WS_MAX_SUBSCRIPTIONS, default 20) and the
	// connections one caller may hold on this instance
	// (DANBAO_WS_MAX_CONNECTIONS_PER_USER, default 10).
	WSInitTimeout time.Duration

	// WebhookRetrySchedule are the delays between attempts of a webhook
	// delivery (DANBAO_WEBHOOK_RETRY_SCHEDULE, comma-separated Go
	// durations; default 5s,5m,30m,2h,4h,8h,10h: 8 attempts within about
	// 24.6 h); WebhookTimeout bounds one attempt (DANBAO_WEBHOOK_TIMEOUT,
	// default 10s).
	WebhookRetrySchedule    []time.Duration
	WebhookTimeout          time.Duration
	WSKeepAlive             time.Duration
	WSMaxSubscriptions      int
	WSMaxConnectionsPerUser int

	// BankCallbackSecret verifies the gateway's signed callbacks
	// (DANBAO_BANK_CALLBACK_SECRET). The sandbox delivers its callbacks in
	// process, so when it is empty a random secret is made at start.
	BankCallbackSecret string

	// TrustedProxies (DANBAO_TRUSTED_PROXIES: comma-separated CIDR
	// prefixes or addresses) are the reverse proxies whose
	// X-Forwarded-For names the client; unset, the TCP peer is the client
	// (obs.Proxies).
	TrustedProxies []netip.Prefix
}

// RiskBurstVariables are the four burst thresholds' variables, in the
// order of the Config fields RiskBurstMinute, RiskBurstMinuteHold,
// RiskBurstHour and RiskBurstHourHold (0 turns a rule off).
var RiskBurstVariables = []string{"DANBAO_RISK_BURST_MINUTE", "DANBAO_RISK_BURST_MINUTE_HOLD", "DANBAO_RISK_BURST_HOUR", "DANBAO_RISK_BURST_HOUR_HOLD"}

// Load reads the configuration through getenv (os.Getenv in production, a
// map in tests). It reports every malformed value by name.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Env:         p.str("DANBAO_ENV", Development),
		Addr:        p.str("DANBAO_ADDR", "127.0.0.1:8080"),
		DataDir:     p.str("DANBAO_DATA_DIR", "./data"),
		DatabaseURL: p.str("DATABASE_URL", ""),
		Playground:  p.boolean("DANBAO_PLAYGROUND", true),
		Sandbox:     p.boolean("DANBAO_SANDBOX", true),

		WebAuthnRPID:    p.str("DANBAO_WEBAUTHN_RP_ID", "localhost"),
		WebAuthnRPName:  p.str("DANBAO_WEBAUTHN_RP_NAME", "danbao"),
		WebAuthnTimeout: p.duration("DANBAO_WEBAUTHN_TIMEOUT", 5*time.Minute),
		CORSOrigins:     p.list("DANBAO_CORS_ORIGINS"),

		AssetLinks:              p.jsonDoc("DANBAO_ASSETLINKS_JSON"),
		AppleAppSiteAssociation: p.jsonDoc("DANBAO_APPLE_APP_SITE_ASSOCIATION"),

		AuthorizationWindow:  p.duration("DANBAO_AUTHORIZATION_WINDOW", 30*time.Minute),
		ShipWithin:           p.duration("DANBAO_SHIP_WITHIN", 72*time.Hour),
		AutoConfirmAfter:     p.duration("DANBAO_AUTO_CONFIRM_AFTER", 240*time.Hour),
		RefundAnswerWithin:   p.duration("DANBAO_REFUND_ANSWER_WITHIN", 48*time.Hour),
		ConfirmExtension:     p.duration("DANBAO_CONFIRM_EXTENSION", 72*time.Hour),
		MaxConfirmExtensions: p.integer("DANBAO_MAX_CONFIRM_EXTENSIONS", 2),
		ProtectionWindow:     p.duration("DANBAO_PROTECTION_WINDOW", 720*time.Hour),
		FeeRateBPS:           p.integer("DANBAO_FEE_RATE_BPS", 60),
		FeeFreeMonthlyCNY:    p.str("DANBAO_FEE_FREE_MONTHLY_CNY", "5000.00"),
		MaxPayment:           p.str("DANBAO_MAX_PAYMENT", "200000.00"),
		DailyLimitMaxCNY:     p.str("DANBAO_DAILY_LIMIT_MAX_CNY", "50000.00"),
		DailyLimitDefaultCNY: p.str("DANBAO_DAILY_LIMIT_DEFAULT_CNY", "20000.00"),
		SchedulerInterval:    p.duration("DANBAO_SCHEDULER_INTERVAL", 15*time.Second),
		RiskBurstMinute:      p.integer("DANBAO_RISK_BURST_MINUTE", 3),
		RiskBurstMinuteHold:  p.integer("DANBAO_RISK_BURST_MINUTE_HOLD", 10),
		RiskBurstHour:        p.integer("DANBAO_RISK_BURST_HOUR", 20),
		RiskBurstHourHold:    p.integer("DANBAO_RISK_BURST_HOUR_HOLD", 60),

		JWTIssuer:       p.str("DANBAO_JWT_ISSUER", "danbao"),
		JWTAudience:     p.str("DANBAO_JWT_AUDIENCE", "danbao-api"),
		JWTKeyFile:      p.str("DANBAO_JWT_KEY_FILE", ""),
		JWTPublicKeys:   p.list("DANBAO_JWT_PUBLIC_KEY_FILES"),
		AccessTokenTTL:  p.duration("DANBAO_ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTokenTTL: p.duration("DANBAO_REFRESH_TOKEN_TTL", 30*24*time.Hour),

		KYCKeys:     p.str("DANBAO_KYC_KEYS", ""),
		KYCIndexKey: p.str("DANBAO_KYC_INDEX_KEY", ""),

		MaxBodyBytes:  int64(p.integer("DANBAO_MAX_BODY_BYTES", 1<<20)),
		MaxDepth:      p.integer("DANBAO_MAX_DEPTH", 16),
		MaxComplexity: p.integer("DANBAO_MAX_COMPLEXITY", 5000),
		MaxTokens:     p.integer("DANBAO_MAX_TOKENS", 5000),
		MutationRate:  p.integer("DANBAO_MUTATION_RATE", 120),

		SignInPhoneRate:   p.integer("DANBAO_SIGNIN_PHONE_RATE", 10),
		SignInAddressRate: p.integer("DANBAO_SIGNIN_ADDRESS_RATE", 300),

		RequestTimeout:        p.duration("DANBAO_REQUEST_TIMEOUT", 15*time.Second),
		HTTPReadHeaderTimeout: p.duration("DANBAO_HTTP_READ_HEADER_TIMEOUT", 10*time.Second),
		HTTPReadTimeout:       p.duration("DANBAO_HTTP_READ_TIMEOUT", 30*time.Second),
		HTTPWriteTimeout:      p.duration("DANBAO_HTTP_WRITE_TIMEOUT", 30*time.Second),
		HTTPIdleTimeout:       p.duration("DANBAO_HTTP_IDLE_TIMEOUT", 120*time.Second),

		LogLevel:  p.str("DANBAO_LOG_LEVEL", "info"),
		LogFormat: p.str("DANBAO_LOG_FORMAT", "text"),

		ShutdownTimeout: p.duration("DANBAO_SHUTDOWN_TIMEOUT", 20*time.Second),
		DBWriters:       p.integer("DANBAO_DB_WRITERS", 4),

		DebugAddr:        p.str("DANBAO_DEBUG_ADDR", ""),
		DebugAllowRemote: p.boolean("DANBAO_DEBUG_ALLOW_REMOTE", false),

		EventsPoll:              p.duration("DANBAO_EVENTS_POLL_INTERVAL", time.Second),
		WebhookTimeout:          p.duration("DANBAO_WEBHOOK_TIMEOUT", 10*time.Second),
		WSInitTimeout:           p.duration("DANBAO_WS_INIT_TIMEOUT", 10*time.Second),
		WSKeepAlive:             p.duration("DANBAO_WS_KEEPALIVE", 25*time.Second),
		WSMaxSubscriptions:      p.integer("DANBAO_WS_MAX_SUBSCRIPTIONS", 20),
		WSMaxConnectionsPerUser: p.integer("DANBAO_WS_MAX_CONNECTIONS_PER_USER", 10),

		BankCallbackSecret: p.str("DANBAO_BANK_CALLBACK_SECRET", ""),
	}
	c.TrustedProxies = p.prefixes("DANBAO_TRUSTED_PROXIES")
	c.WebAuthnOrigins = p.list("DANBAO_WEBAUTHN_ORIGINS")
	if len(c.WebAuthnOrigins) == 0 {
		if _, port, err := net.SplitHostPort(c.Addr); err == nil {
			c.WebAuthnOrigins = []string{"http://localhost:" + port}
		}
	}
	if c.JWTKeyFile == "" {
		c.JWTKeyFile = c.devJWTKeyFile()
	}
	c.KYCKeyFile = strings.TrimRight(c.DataDir, "/") + "/kyc-keys"
	switch c.Env {
	case Development:
	case Production:
		p.errs = append(p.errs, c.productionProblems()...)
	default:
		p.errs = append(p.errs, fmt.Sprintf("DANBAO_ENV: %q is neither %s nor %s", c.Env, Development, Production))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(c.LogLevel)) {
		p.errs = append(p.errs, fmt.Sprintf("DANBAO_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.errs = append(p.errs, fmt.Sprintf("DANBAO_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	switch {
	case c.KYCKeys == "" && c.KYCIndexKey == "":
	case c.KYCKeys == "" || c.KYCIndexKey == "":
		p.errs = append(p.errs, "DANBAO_KYC_KEYS and DANBAO_KYC_INDEX_KEY: set both, or neither for development keys in the data directory")
	default:
		// Error messages of ParseKeyring name versions and sizes, never keys.
		if _, err := vault.ParseKeyring(c.KYCKeys, c.KYCIndexKey); err != nil {
			p.errs = append(p.errs, "DANBAO_KYC_KEYS / DANBAO_KYC_INDEX_KEY: "+err.Error())
		}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p.errs = append(p.errs, fmt.Sprintf("DANBAO_ADDR: %q is not host:port", c.Addr))
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			p.errs = append(p.errs, fmt.Sprintf("DANBAO_DEBUG_ADDR: %q is not host:port", c.DebugAddr))
		}
	}
	if c.AccessTokenTTL <= 0 || c.RefreshTokenTTL <= 0 {
		p.errs = append(p.errs, "token lifetimes must be positive")
	}
	if c.MaxBodyBytes <= 0 || c.MaxDepth <= 0 || c.MaxComplexity <= 0 || c.MaxTokens <= 0 || c.MutationRate < 0 ||
		c.SignInPhoneRate < 0 || c.SignInAddressRate < 0 {
		p.errs = append(p.errs, "request limits must be positive")
	}
	c.WebhookRetrySchedule = p.durations("DANBAO_WEBHOOK_RETRY_SCHEDULE",
		[]time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 10 * time.Hour})
	for i, v := range []int{c.RiskBurstMinute, c.RiskBurstMinuteHold, c.RiskBurstHour, c.RiskBurstHourHold} {
		if v < 0 {
			p.errs = append(p.errs, fmt.Sprintf("%s: %d is negative (0 turns that rule off)", RiskBurstVariables[i], v))
		}
	}
	if c.DBWriters < 0 {
		p.errs = append(p.errs, fmt.Sprintf("DANBAO_DB_WRITERS: %d is negative (0 means no limit)", c.DBWriters))
	}
	if c.WSMaxSubscriptions <= 0 || c.WSMaxConnectionsPerUser <= 0 {
		p.errs = append(p.errs, "DANBAO_WS_MAX_SUBSCRIPTIONS and DANBAO_WS_MAX_CONNECTIONS_PER_USER must be positive")
	}
	if c.HTTPWriteTimeout <= c.RequestTimeout {
		p.errs = append(p.errs, "DANBAO_HTTP_WRITE_TIMEOUT must be longer than DANBAO_REQUEST_TIMEOUT, so that a request that runs out of time can still be answered")
	}
	if c.MaxConfirmExtensions < 0 || c.FeeRateBPS < 0 || c.FeeRateBPS > 10000 {
		p.errs = append(p.errs, "DANBAO_MAX_CONFIRM_EXTENSIONS must be at least 0 and DANBAO_FEE_RATE_BPS between 0 and 10000")
	}
	for name, v := range map[string]string{"DANBAO_FEE_FREE_MONTHLY_CNY": c.FeeFreeMonthlyCNY, "DANBAO_MAX_PAYMENT": c.MaxPayment,
		"DANBAO_DAILY_LIMIT_MAX_CNY": c.DailyLimitMaxCNY, "DANBAO_DAILY_LIMIT_DEFAULT_CNY": c.DailyLimitDefaultCNY} {
		if _, err := money.ParseAmount(v, money.CNY); err != nil {
			p.errs = append(p.errs, fmt.Sprintf("%s: %q is not an amount such as 5000.00", name, v))
		}
	}
	dmax, err1 := money.ParseAmount(c.DailyLimitMaxCNY, money.CNY)
	ddef, err2 := money.ParseAmount(c.DailyLimitDefaultCNY, money.CNY)
	if err1 == nil && err2 == nil && (dmax < 0 || ddef < 0 || ddef > dmax) {
		p.errs = append(p.errs, "DANBAO_DAILY_LIMIT_MAX_CNY must not be negative and DANBAO_DAILY_LIMIT_DEFAULT_CNY must be between 0 and it")
	}
	if len(p.errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %s", strings.Join(p.errs, "; "))
	}
	return c, nil
}

// productionProblems lists, each naming its setting, the development
// defaults that DANBAO_ENV=production refuses: the sandbox (it approves
// every real name and fakes the bank), the playground (and with it
// introspection), signing and encryption keys generated in the data
// directory instead of provided by the operator, a random bank callback
// secret, and CORS open to any origin.
func (c Config) productionProblems() []string {
	var out []string
	if c.Sandbox {
		out = append(out, "DANBAO_SANDBOX: must be false in production (the sandbox approves every real name and fakes the bank)")
	}
	if c.Playground {
		out = append(out, "DANBAO_PLAYGROUND: must be false in production (it also turns on introspection)")
	}
	if c.JWTKeyFile == c.devJWTKeyFile() {
		out = append(out, "DANBAO_JWT_KEY_FILE: must name the provisioned signing key in production, not a development key generated in the data directory")
	}
	if c.KYCKeys == "" || c.KYCIndexKey == "" {
		out = append(out, "DANBAO_KYC_KEYS and DANBAO_KYC_INDEX_KEY: must be set in production, not development keys generated in the data directory")
	}
	if c.BankCallbackSecret == "" {
		out = append(out, "DANBAO_BANK_CALLBACK_SECRET: must be set in production, not a random secret made at start")
	}
	if slices.Contains(c.CORSOrigins, "*") {
		out = append(out, `DANBAO_CORS_ORIGINS: "*" (any origin) is refused in production; list the allowed origins`)
	}
	if c.DebugAddr != "" && !c.DebugAllowRemote && !loopback(c.DebugAddr) {
		out = append(out, "DANBAO_DEBUG_ADDR: the profiling listener must listen on a loopback address in production (set DANBAO_DEBUG_ALLOW_REMOTE=true to expose it deliberately)")
	}
	return out
}

// loopback reports whether the host of addr (host:port) can only be
// reached from this machine: localhost or a loopback IP. An empty host
// (all interfaces) is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// devJWTKeyFile is where a development signing key is created on first
// start.
func (c Config) devJWTKeyFile() string { return strings.TrimRight(c.DataDir, "/") + "/jwt-es256.pem" }

// Production reports whether DANBAO_ENV is production.
func (c Config) Production() bool { return c.Env == Production }

// Postgres reports whether the configuration selects PostgreSQL.
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

type parser struct {
	getenv func(string) string
	errs   []string
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) boolean(name string, def bool) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("%s: %q is not a boolean", name, v))
		return def
	}
	return b
}

func (p *parser) integer(name string, def int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("%s: %q is not an integer", name, v))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.errs = append(p.errs, fmt.Sprintf("%s: %q is not a positive Go duration such as 30m or 72h", name, v))
		return def
	}
	return d
}

// jsonDoc reads a JSON document given inline (the value starts with '{' or
// '[') or as the path of a file holding it. Unset gives nil.
func (p *parser) jsonDoc(name string) json.RawMessage {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return nil
	}
	doc := []byte(v)
	if v[0] != '{' && v[0] != '[' {
		b, err := os.ReadFile(v)
		if err != nil {
			p.errs = append(p.errs, fmt.Sprintf("%s: neither inline JSON nor a readable file: %v", name, err))
			return nil
		}
		doc = b
	}
	if !json.Valid(doc) {
		p.errs = append(p.errs, fmt.Sprintf("%s: not valid JSON", name))
		return nil
	}
	return json.RawMessage(doc)
}

// durations reads comma-separated positive Go durations.
func (p *parser) durations(name string, def []time.Duration) []time.Duration {
	items := p.list(name)
	if len(items) == 0 {
		return def
	}
	out := make([]time.Duration, 0, len(items))
	for _, v := range items {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			p.errs = append(p.errs, fmt.Sprintf("%s: %q is not a positive Go duration", name, v))
			return def
		}
		out = append(out, d)
	}
	return out
}

// prefixes reads comma-separated CIDR prefixes or single addresses
// (10.0.0.0/8, 192.0.2.10, fd00::/8); an IPv4-mapped one is read as the
// IPv4 it maps, since clients' addresses are compared unmapped.
func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range p.list(name) {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				p.errs = append(p.errs, fmt.Sprintf("%s: %q is neither a CIDR prefix such as 10.0.0.0/8 nor an IP address", name, s))
				continue
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		if a := pf.Addr(); a.Is4In6() {
			if pf.Bits() < 96 {
				p.errs = append(p.errs, fmt.Sprintf("%s: %q is an IPv4-mapped prefix shorter than /96", name, s))
				continue
			}
			pf = netip.PrefixFrom(a.Unmap(), pf.Bits()-96)
		}
		if pf.Bits() == 0 {
			p.errs = append(p.errs, fmt.Sprintf("%s: %q would trust every peer, so that any client could write its own address", name, s))
			continue
		}
		out = append(out, pf.Masked())
	}
	return out
}

func (p *parser) list(name string) []string {
	var out []string
	for _, s := range strings.Split(p.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
