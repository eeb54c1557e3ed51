// Package app wires one danbao server instance: configuration, database,
// services, the GraphQL handler and the HTTP routes. server.go runs it; the
// API tests build it with New and drive its Handler over real HTTP.
package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/bank"
	"danbao/internal/config"
	"danbao/internal/db"
	"danbao/internal/dbtx"
	"danbao/internal/escrow"
	"danbao/internal/events"
	"danbao/internal/idempotency"
	"danbao/internal/kyc"
	"danbao/internal/ledger"
	"danbao/internal/limits"
	"danbao/internal/money"
	"danbao/internal/obs"
	"danbao/internal/partner"
	"danbao/internal/passkey"
	"danbao/internal/ratelimit"
	"danbao/internal/realname"
	"danbao/internal/risk"
	"danbao/internal/sandboxbank"
	"danbao/internal/trust"
	"danbao/internal/vault"
	"danbao/internal/wallet"
	"danbao/internal/webhook"
	"danbao/resolvers"

	"github.com/prometheus/client_golang/prometheus"
)

// App is one wired server instance.
type App struct {
	Config   config.Config
	DB       *db.DB
	Auth     *auth.Service
	Passkeys *passkey.Service
	Tokens   *auth.Tokens
	Ledger   *ledger.Service
	Wallet   *wallet.Service
	Keys     *idempotency.Keys
	Bank     *sandboxbank.Bank // nil unless DANBAO_SANDBOX
	Metrics  *obs.Metrics
	Log      *slog.Logger

	RealName *realname.Service
	Limits   *limits.Service
	// Events wakes subscribers when events commit, on this instance or
	// (PostgreSQL) any other.
	Events *events.Hub
	// Sockets are the open subscription sockets; Shutdown closes them.
	Sockets *resolvers.Sockets
	// Partners are partner apps and sellers' connections; Webhooks
	// delivers events to them.
	Partners *partner.Service
	Webhooks *webhook.Service

	stop      context.CancelFunc // ends background work started by New
	running   sync.WaitGroup
	closeOnce sync.Once

	// IdentityKeys seal identity data at rest: ID numbers, legal names,
	// card holder names.
	IdentityKeys *vault.Keyring
	Escrow       *escrow.Service
	Trust        *trust.Service
	Risk         *risk.Service

	ready          atomic.Bool
	handler        http.Handler
	callbackSigner bank.Signer
}

// Options tune an App beyond its Config; tests use them.
type Options struct {
	// PasswordParams overrides the argon2id cost (tests use a cheap one).
	PasswordParams *auth.PasswordParams
	// Levels overrides the verification levels and their limits
	// (default kyc.DefaultConfig()).
	Levels *kyc.Config
	// Verifier overrides the real-name verifier (default: the sandbox
	// verifier when DANBAO_SANDBOX is on, otherwise operator review only).
	Verifier realname.Verifier
	// Now replaces the clock of passkey ceremonies and of escrow deadlines
	// (tests expire challenges and run deadlines by moving it forward).
	Now func() time.Time
	// Trust overrides the trust score thresholds (default
	// trust.DefaultConfig()).
	Trust *trust.Config
	// Trace, when set, is called with every statement the client sends
	// (tests count a request's statements).
	Trace db.Trace
	// Client, when set, is called with the ent client before any service
	// or background loop uses it (tests add interceptors and hooks: added
	// to a client in use, they would race with its loops' queries).
	Client func(*ent.Client)
}

// New opens the database (migrating it), builds the services and the HTTP
// handler. The App starts ready.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	d, err := db.OpenTraced(ctx, cfg.DatabaseURL, cfg.DataDir, opts.Trace)
	if err != nil {
		return nil, err
	}
	if opts.Client != nil {
		opts.Client(d.Client)
	}
	a, err := build(cfg, d, log, opts)
	if err == nil {
		err = a.init(ctx)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return a, nil
}

func build(cfg config.Config, d *db.DB, log *slog.Logger, opts Options) (*App, error) {
	// The key file is created on first start only at the development
	// default location; a configured file must exist.
	keys, err := auth.LoadKeySet(cfg.JWTKeyFile, cfg.JWTKeyFile == cfg.DataDir+"/jwt-es256.pem", cfg.JWTPublicKeys)
	if err != nil {
		return nil, err
	}
	params := auth.DefaultPasswordParams
	if opts.PasswordParams != nil {
		params = *opts.PasswordParams
	}
	tokens := auth.NewTokens(keys, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTokenTTL)
	kycKeys, err := kycKeyring(cfg)
	if err != nil {
		return nil, err
	}
	levels := kyc.DefaultConfig()
	if opts.Levels != nil {
		levels = *opts.Levels
	}
	if err := levels.Validate(); err != nil {
		return nil, err
	}
	verifier := opts.Verifier
	if verifier == nil {
		verifier = realname.Manual{}
		if cfg.Sandbox {
			verifier = realname.Sandbox{}
		}
	}
	rn := realname.New(d.Client, kycKeys, verifier, levels, log)
	a := &App{
		Config:   cfg,
		DB:       d,
		Tokens:   tokens,
		Auth:     auth.NewService(d.Client, tokens, cfg.RefreshTokenTTL, params),
		Metrics:  obs.NewMetrics(log),
		Log:      log,
		RealName: rn,
		Limits:   limits.New(d.Client, levels, dailyConfig(cfg), rn),

		IdentityKeys: kycKeys,
	}
	dbtx.SetWriters(d.Client, cfg.DBWriters)
	a.Metrics.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "danbao_db_group_commits_total",
			Help: "SQLite: shared transactions the group committer began (dbtx group commit)."},
			func() float64 { g, _ := dbtx.GroupStats(d.Client); return float64(g) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "danbao_db_grouped_transactions_total",
			Help: "SQLite: transactions run in a savepoint of a group commit."},
			func() float64 { _, u := dbtx.GroupStats(d.Client); return float64(u) }))
	a.Ledger = ledger.New(d.Client)
	a.Events = events.NewHub(d.Client, d.SQL, d.Dialect, events.HubConfig{Poll: cfg.EventsPoll, Logger: log})
	a.Partners = partner.New(d.Client, tokens)
	a.Webhooks = webhook.New(d.Client, a.Events, webhook.Config{Schedule: cfg.WebhookRetrySchedule,
		Sandbox: cfg.Sandbox, Timeout: cfg.WebhookTimeout, Poll: cfg.EventsPoll, Logger: log, Vault: kycKeys})
	secret := []byte(cfg.BankCallbackSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	a.callbackSigner = bank.Signer{Secret: secret}
	var gw bank.Gateway
	if cfg.Sandbox {
		a.Bank = sandboxbank.New(secret, log)
		gw = a.Bank
	} else {
		log.Warn("no bank gateway: top-ups and withdrawals are refused until one is configured")
	}
	a.Keys = idempotency.New(d.Dialect)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	a.Wallet = wallet.New(d.Client, a.Ledger, a.Keys, walletIdentity{a.Limits, a.RealName, now}, gw, kycKeys, log)
	a.Passkeys, err = passkey.New(d.Client, a.Auth, passkey.Config{
		RPID:    cfg.WebAuthnRPID,
		RPName:  cfg.WebAuthnRPName,
		Origins: cfg.WebAuthnOrigins,
		Timeout: cfg.WebAuthnTimeout,
		Now:     opts.Now,
		Logger:  log,
	})
	if err != nil {
		return nil, err
	}
	a.Escrow = escrow.New(d.Client, a.Ledger, a.Keys, a.Passkeys, a.Limits, escrowConfig(cfg), now, log)
	trustCfg := trust.DefaultConfig()
	if opts.Trust != nil {
		trustCfg = *opts.Trust
	}
	a.Trust = trust.New(d.Client, rn, trustCfg, now)
	a.Limits.SetTrust(a.Trust)
	a.Escrow.SetTrust(a.Trust)
	// Every outflow is assessed by risk and authorized by a passkey or the
	// password-free allowance (docs/design.md, Risk).
	if off := burstRulesOff(cfg); len(off) > 0 {
		log.Warn("risk: burst rules turned off by a threshold of 0", "off", off)
	}
	a.Risk = risk.New(d.Client, a.Keys, riskConfig(cfg), now)
	a.Escrow.SetRisk(a.Risk)
	a.Wallet.SetAuthorization(a.Passkeys, a.Risk)
	a.handler = a.routes()
	if a.Bank != nil {
		a.Bank.SetHandler(a.handler)
	}
	a.ready.Store(true)
	return a, nil
}

// walletIdentity is what the wallet asks of real-name verification.
type walletIdentity struct {
	*limits.Service
	realName *realname.Service
	now      func() time.Time
}

// CheckOutflow refuses a frozen account and counts the amount against the
// level's limits and the daily limit, in the withdrawal's transaction.
func (w walletIdentity) CheckOutflow(ctx context.Context, tx *ent.Tx, userID pulid.ID, amount int64, c money.Currency) error {
	if err := escrow.CheckNotFrozen(ctx, tx, userID); err != nil {
		return err
	}
	return w.Record(ctx, tx, userID, amount, c, w.now())
}

// CheckNotFrozen refuses a frozen account (an approval of a held
// withdrawal).
func (w walletIdentity) CheckNotFrozen(ctx context.Context, tx *ent.Tx, userID pulid.ID) error {
	return escrow.CheckNotFrozen(ctx, tx, userID)
}

// dailyConfig maps the configuration to the daily limits: CNY only, so
// every other currency is refused for outflows. Load has already checked
// the amounts parse and the default is within the maximum.
func dailyConfig(cfg config.Config) limits.DailyConfig {
	dmax, _ := money.ParseAmount(cfg.DailyLimitMaxCNY, money.CNY)
	def, _ := money.ParseAmount(cfg.DailyLimitDefaultCNY, money.CNY)
	return limits.DailyConfig{Max: map[money.Currency]int64{money.CNY: dmax}, Default: map[money.Currency]int64{money.CNY: def}}
}

// riskConfig maps the configuration to risk's thresholds: the default
// ones with the configured burst thresholds (0 turns a rule off; Load
// refuses negative ones).
func riskConfig(cfg config.Config) risk.Config {
	out := risk.DefaultConfig()
	out.BurstMinute, out.BurstMinuteHold = cfg.RiskBurstMinute, cfg.RiskBurstMinuteHold
	out.BurstHour, out.BurstHourHold = cfg.RiskBurstHour, cfg.RiskBurstHourHold
	return out
}

// burstRulesOff names the burst thresholds set to 0 (their rules off), so
// that a deployment that turned one off, perhaps meaning the default as 0
// once did, says so at every start.
func burstRulesOff(cfg config.Config) []string {
	var off []string
	for i, set := range []int{cfg.RiskBurstMinute, cfg.RiskBurstMinuteHold, cfg.RiskBurstHour, cfg.RiskBurstHourHold} {
		if set == 0 {
			off = append(off, config.RiskBurstVariables[i])
		}
	}
	return off
}

// escrowConfig maps the configuration to the escrow's. Load has already
// checked the amounts parse.
func escrowConfig(cfg config.Config) escrow.Config {
	free, _ := money.ParseAmount(cfg.FeeFreeMonthlyCNY, money.CNY)
	out := escrow.Config{
		Windows: escrow.Windows{Authorization: cfg.AuthorizationWindow, ShipWithin: cfg.ShipWithin,
			AutoConfirm: cfg.AutoConfirmAfter, RefundAnswer: cfg.RefundAnswerWithin,
			Extension: cfg.ConfirmExtension, Protection: cfg.ProtectionWindow},
		Limits:     escrow.Limits{MaxExtensions: cfg.MaxConfirmExtensions},
		Fees:       escrow.FeeRules{RateBPS: int64(cfg.FeeRateBPS), FreeMonthly: map[money.Currency]int64{money.CNY: free}},
		MaxPayment: map[money.Currency]int64{},
	}
	// The maximum is in major units of every currency; a currency with
	// fewer decimals takes its whole part.
	whole, _, _ := strings.Cut(cfg.MaxPayment, ".")
	for _, c := range money.Currencies() {
		if v, err := money.ParseAmount(cfg.MaxPayment, c); err == nil {
			out.MaxPayment[c] = v
		} else if v, err := money.ParseAmount(whole, c); err == nil {
			out.MaxPayment[c] = v
		}
	}
	return out
}

func (w walletIdentity) CheckCardHolder(ctx context.Context, tx *ent.Tx, userID pulid.ID, holder string) error {
	return w.realName.CheckCardHolder(ctx, tx, userID, holder)
}

// init creates the rows every instance relies on (sequence counters) and
// seals card holder names and webhook signing keys still in plain text or
// under a retired key;
// safe to run on several instances at once.
func (a *App) init(ctx context.Context) error {
	if err := a.Ledger.Init(ctx); err != nil {
		return err
	}
	if err := events.EnsureCounter(ctx, a.DB.Client); err != nil {
		return err
	}
	n, err := a.Wallet.SealHolderNames(ctx, 100)
	if n > 0 {
		a.Log.InfoContext(ctx, "sealed bank card holder names", "count", n)
	}
	if err != nil {
		return err
	}
	n, err = a.Webhooks.SealSecrets(ctx, 100)
	if n > 0 {
		a.Log.InfoContext(ctx, "sealed webhook signing keys", "count", n)
	}
	if err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	a.running.Add(2)
	go func() { defer a.running.Done(); a.Events.Run(bg) }()
	go func() { defer a.running.Done(); a.Webhooks.Run(bg) }()
	return nil
}

// kycKeyring returns the keys that encrypt ID numbers at rest: the
// configured ones, or in development (neither variable set) those of the
// key file in the data directory, created on first start.
func kycKeyring(cfg config.Config) (*vault.Keyring, error) {
	if cfg.KYCKeys != "" || cfg.KYCIndexKey != "" {
		return vault.ParseKeyring(cfg.KYCKeys, cfg.KYCIndexKey)
	}
	return vault.LoadOrCreateFile(cfg.KYCKeyFile)
}

// ResendAfter is how long a top-up or withdrawal stays PENDING, untouched,
// before a periodic pass sends its gateway request again. At start every
// operation PENDING from before the start is sent again at once (the
// callbacks in flight died with the previous process).
const ResendAfter = time.Minute

// RecoverBatch is how many pending operations one pass of RecoverPending
// claims at a time.
const RecoverBatch = 500

// recoverPause is how long RecoverPending waits when the gateway's queue
// is full before it asks again.
const recoverPause = 100 * time.Millisecond

// Maintain runs housekeeping until ctx ends: at once, every operation
// PENDING from before the start is re-sent (RecoverPending); then every
// interval those PENDING and untouched for ResendAfter are, and
// idempotency keys past their retention, passkey challenges long
// expired and deleted webhooks' deliveries are deleted. Safe on several
// instances.
func (a *App) Maintain(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	before := time.Now()
	for {
		if n, err := a.RecoverPending(ctx, before, RecoverBatch); err != nil && ctx.Err() == nil {
			a.Log.WarnContext(ctx, "re-sending pending bank operations", "error", err)
		} else if n > 0 {
			a.Log.InfoContext(ctx, "re-sent pending bank operations", "count", n)
		}
		if n, err := a.Keys.Purge(ctx, a.DB.Client); err != nil && ctx.Err() == nil {
			a.Log.WarnContext(ctx, "purging idempotency keys", "error", err)
		} else if n > 0 {
			a.Log.InfoContext(ctx, "purged expired idempotency keys", "count", n)
		}
		if n, err := a.Webhooks.PurgeDeleted(ctx, webhook.DeleteBatch); err != nil && ctx.Err() == nil {
			a.Log.WarnContext(ctx, "removing deleted webhooks' deliveries", "error", err)
		} else if n > 0 {
			a.Log.InfoContext(ctx, "removed deleted webhooks' deliveries", "count", n)
		}
		if n, err := a.Passkeys.Sweep(ctx); err != nil && ctx.Err() == nil {
			a.Log.WarnContext(ctx, "sweeping expired passkey challenges", "error", err)
		} else if n > 0 {
			a.Log.InfoContext(ctx, "swept expired passkey challenges", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before = time.Now().Add(-ResendAfter)
	}
}

// RecoverPending re-sends the gateway request of every top-up and
// withdrawal PENDING, untouched, since before, batch by batch, however
// many there are: when the gateway's queue is full it waits for room
// rather than skipping any. It returns how many it found, and ends early
// only with ctx or a database error.
func (a *App) RecoverPending(ctx context.Context, before time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := a.Wallet.ResendPending(ctx, before, batch)
		total += n
		switch {
		case apperr.Is(err, apperr.RateLimited):
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(recoverPause):
			}
		case err != nil || n == 0:
			return total, err
		}
	}
}

// Handler is the whole HTTP surface of the instance.
func (a *App) Handler() http.Handler { return a.handler }

// SetReady switches /readyz; shutdown turns it off first so that load
// balancers stop sending new requests before the server stops.
func (a *App) SetReady(ok bool) { a.ready.Store(ok) }

// CloseSubscriptions closes every subscription socket with 1001 (going
// away): clients reconnect, to another instance, and resume from their
// last cursor. Shutdown calls it after in-flight requests have finished.
func (a *App) CloseSubscriptions() { a.Sockets.Shutdown() }

// Shutdown stops the instance within ctx, whatever is queued: the
// sandbox bank drops the callbacks still queued (their operations stay
// PENDING for RecoverPending after the restart) and abandons those in
// flight; background work is stopped; the database is closed. Only the
// first call does anything.
func (a *App) Shutdown(ctx context.Context) error {
	var err error
	a.closeOnce.Do(func() {
		if a.Bank != nil {
			n, berr := a.Bank.Close(ctx)
			if n > 0 {
				a.Log.InfoContext(ctx, "left queued bank callbacks for recovery", "count", n)
			}
			if berr != nil {
				a.Log.WarnContext(ctx, "sandbox bank senders still running at shutdown", "error", berr)
			}
		}
		if a.stop != nil {
			a.stop()
			done := make(chan struct{})
			go func() { a.running.Wait(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				a.Log.WarnContext(ctx, "background work still running at shutdown")
			}
		}
		err = a.DB.CloseContext(ctx)
	})
	return err
}

// Close is Shutdown within DANBAO_SHUTDOWN_TIMEOUT.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	return a.Shutdown(ctx)
}

func (a *App) routes() http.Handler {
	a.Sockets = resolvers.NewSockets(resolvers.WebsocketConfig{
		Tokens:                a.Tokens,
		InitTimeout:           a.Config.WSInitTimeout,
		KeepAlive:             a.Config.WSKeepAlive,
		MaxSubscriptions:      a.Config.WSMaxSubscriptions,
		MaxConnectionsPerUser: a.Config.WSMaxConnectionsPerUser,
		Origins:               a.Config.CORSOrigins,
	})
	gql := resolvers.NewHandler(&resolvers.Resolver{
		Client: a.DB.Client, Auth: a.Auth, Passkeys: a.Passkeys, Ledger: a.Ledger, Wallet: a.Wallet,
		RealName: a.RealName, Limits: a.Limits, Escrow: a.Escrow, Risk: a.Risk, Events: a.Events, Sockets: a.Sockets,
		Partners: a.Partners, WebhookService: a.Webhooks, Trust: a.Trust,
	}, resolvers.HandlerConfig{
		MaxDepth:      a.Config.MaxDepth,
		MaxComplexity: a.Config.MaxComplexity,
		MaxTokens:     a.Config.MaxTokens,
		Introspection: a.Config.Playground,
		Logger:        a.Log,
		Metrics:       a.Metrics,
		Mutations:     perMinute(a.Config.MutationRate),
		Sessions:      a.Auth,
		SignInPhone:   perMinute(a.Config.SignInPhoneRate),
		SignInAddress: perMinute(a.Config.SignInAddressRate),
		Sockets:       a.Sockets,
		// Operations sent over a subscription socket have no request
		// deadline: they get the same bound.
		OperationTimeout: a.Config.RequestTimeout,
	})
	mux := http.NewServeMux()
	m := a.Metrics
	mux.Handle("/graphql", m.CountHTTP("/graphql", upgradeOnlyToWebSocket(
		cors(a.Config.CORSOrigins, deadline(a.Config.RequestTimeout, limitBody(a.Config.MaxBodyBytes, a.Tokens.Middleware(a.Sockets.Middleware(gql))))))))
	mux.Handle("POST "+partner.TokenPath, m.CountHTTP(partner.TokenPath, a.Partners.TokenHandler(a.Log)))
	// No request deadline: a long statement streams for as long as it takes.
	// OPTIONS too: a browser sends a preflight before a GET with a bearer token.
	statements := m.CountHTTP(StatementsPath, cors(a.Config.CORSOrigins, a.Tokens.Middleware(statementsCSV(a.Wallet, a.Log))))
	mux.Handle("GET "+StatementsPath, statements)
	mux.Handle("OPTIONS "+StatementsPath, statements)
	mux.Handle("POST "+bank.CallbackPath, m.CountHTTP(bank.CallbackPath, bankCallback(a.Wallet, a.callbackSigner, a.Log)))
	if a.Config.Playground {
		pg := m.CountHTTP("/playground", playgroundHandler())
		mux.Handle("GET /playground", pg)
		mux.Handle("GET /playground/", pg)
		mux.Handle("GET /dev/passkeys", m.CountHTTP("/dev/passkeys", http.HandlerFunc(devPasskeys)))
	}
	mux.Handle("GET /healthz", m.CountHTTP("/healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})))
	mux.Handle("GET /readyz", m.CountHTTP("/readyz", http.HandlerFunc(a.readyz)))
	mux.Handle("GET /metrics", m.Handler())
	jwks := a.Tokens.Keys().JWKS()
	mux.Handle("GET /.well-known/jwks.json", m.CountHTTP("/.well-known/jwks.json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(jwks)
	})))
	// Digital Asset Links and the Apple app site association let the
	// Android and iOS apps use passkeys for the RP ID; unset means 404.
	for path, doc := range map[string][]byte{
		"/.well-known/assetlinks.json":            a.Config.AssetLinks,
		"/.well-known/apple-app-site-association": a.Config.AppleAppSiteAssociation,
	} {
		if doc != nil {
			mux.Handle("GET "+path, m.CountHTTP(path, staticJSON(doc)))
		}
	}
	return obs.RequestIDs(obs.Proxies(a.Config.TrustedProxies), mux)
}

// perMinute is a limiter of n per minute per key, n also the burst; 0
// disables it.
func perMinute(n int) *ratelimit.Limiter { return ratelimit.New(float64(n)/60, float64(n)) }

// staticJSON serves a fixed JSON document.
func staticJSON(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
}

func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	if !a.ready.Load() {
		writeText(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	if err := a.DB.Ping(r.Context()); err != nil {
		a.Log.WarnContext(r.Context(), "readiness: database unreachable", "error", err)
		writeText(w, http.StatusServiceUnavailable, "database unreachable")
		return
	}
	writeText(w, http.StatusOK, "ready")
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
