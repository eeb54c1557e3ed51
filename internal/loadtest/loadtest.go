// Package loadtest is danbao's load tool (`danbao load`). It drives the
// real payment flow over HTTP GraphQL against a running server: it
// prepares users (sign-up, sandbox real-name approval, a settled top-up, a
// passkey held by a software authenticator, package softauthn), then for a
// set duration runs a weighted mix of operations from concurrent clients:
// full escrow flows (create, authorize with the passkey, ship, confirm),
// authorizations only, top-ups, history pages, and escrow flows that all
// pay one hot seller. It reports per operation count, rate, latency
// percentiles and errors by code; with a Probe (the database), the money
// movements (journal transactions) committed per second, the top-ups
// still unsettled after the run, and the ledger's verification, which
// fails the run on any violation; with a server pid, its peak RSS. It only
// targets loopback addresses, and stops by itself after its duration.
//
// Package loadtest also seeds and measures history at scale (history.go).
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The operations a mix weighs.
const (
	OpEscrow    = "escrow"    // create, authorize, ship, confirm: two money movements
	OpAuthorize = "authorize" // create and authorize: one money movement, left in escrow
	OpTopUp     = "topup"     // a top-up, settled by the sandbox bank
	OpHistory   = "history"   // the first page of history, then the next
	OpHotSeller = "hotseller" // an escrow flow whose seller is the same for every buyer
)

var knownOps = []string{OpEscrow, OpAuthorize, OpTopUp, OpHistory, OpHotSeller}

// DefaultMix is the mix when none is given.
const DefaultMix = "escrow=1,authorize=2,topup=1,history=1,hotseller=0"

// Mix weighs the operations a client runs: escrow=1,authorize=2 runs two
// authorizations for each escrow flow.
type Mix map[string]int

// ParseMix reads "op=weight,..." (weights >= 0, at least one positive).
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains(knownOps, name) {
			return nil, fmt.Errorf("load: bad mix entry %q (want op=weight, op one of %s)", part, strings.Join(knownOps, ", "))
		}
		m[name] = n
	}
	total := 0
	for _, n := range m {
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("load: mix %q has no positive weight", s)
	}
	return m, nil
}

// sequence is the mix as a cycle of operations, interleaved.
func (m Mix) sequence() []string {
	var seq []string
	left := maps.Clone(m)
	for len(seq) < m.total() {
		for _, op := range knownOps {
			if left[op] > 0 {
				seq = append(seq, op)
				left[op]--
			}
		}
	}
	return seq
}

func (m Mix) total() int {
	t := 0
	for _, n := range m {
		t += n
	}
	return t
}

func (m Mix) String() string {
	var parts []string
	for _, op := range knownOps {
		if m[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", op, m[op]))
		}
	}
	return strings.Join(parts, ",")
}

// Probe reads the server's database: what was committed and whether the
// ledger holds. DBProbe is the one `danbao load` uses.
type Probe interface {
	// Head is the sequence number of the last committed journal transaction.
	Head(ctx context.Context) (int64, error)
	// MovementsSince counts journal transactions after seq, by kind.
	MovementsSince(ctx context.Context, seq int64) (map[string]int64, error)
	// PendingTopUps counts top-ups not settled yet.
	PendingTopUps(ctx context.Context) (int64, error)
	// Verify checks every ledger invariant.
	Verify(ctx context.Context) (*Verification, error)
}

// Verification is the outcome of the ledger's verification.
type Verification struct {
	Transactions, Accounts int
	Violations             []string
}

// Options configure a run.
type Options struct {
	URL      string        // server base URL, loopback only
	Origin   string        // WebAuthn origin the server accepts; default http://localhost:PORT of URL
	Users    int           // prepared buyers (at least Clients)
	Clients  int           // concurrent clients; default Users
	Duration time.Duration // how long the mix runs
	Mix      Mix           // default DefaultMix
	Fund     string        // each user's setup top-up, default "500.00"
	Amount   string        // each payment's amount, default "0.10"
	Probe    Probe         // optional: movements, backlog and verification
	PID      int           // optional: the server's pid, for its peak RSS
	// SettleWait is how long to wait after the run for pending top-ups to
	// settle before verifying (default 30s).
	SettleWait time.Duration
	Progress   func(string) // optional: setup progress lines
}

// Result is what a run measured.
type Result struct {
	Elapsed time.Duration
	Users   int
	Clients int
	Mix     Mix
	Ops     map[string]*Stat
	// Movements are the journal transactions committed during the mix, by
	// kind (nil without a Probe).
	Movements map[string]int64
	// PendingAtEnd and PendingAfterWait count unsettled top-ups when the
	// mix stopped and after SettleWait (-1 without a Probe).
	PendingAtEnd, PendingAfterWait int64
	SettledIn                      time.Duration // how long the backlog took to drain
	PeakRSS, RSS                   int64         // the server's VmHWM and VmRSS in bytes (0 without a pid)
	Verify                         *Verification
}

// ErrViolations is returned by Run, with the Result, when the ledger's
// verification after the run found broken invariants.
var ErrViolations = errors.New("load: LEDGER VERIFICATION FAILED")

// MovementsPerSecond is the rate of journal transactions committed during
// the mix; payments counts only authorizations and releases.
func (r *Result) MovementsPerSecond() (all, payments float64) {
	var n, p int64
	for k, v := range r.Movements {
		n += v
		if k == "PAYMENT" || k == "PAYMENT_RELEASE" {
			p += v
		}
	}
	s := r.Elapsed.Seconds()
	return float64(n) / s, float64(p) / s
}

// Stat is one operation's figures.
type Stat struct {
	Count, Errors int
	Codes         map[string]int
	latencies     []time.Duration
	sorted        bool
}

// Percentile returns the p-th percentile latency (0 < p <= 100).
func (s *Stat) Percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.latencies)
		s.sorted = true
	}
	i := int(float64(len(s.latencies))*p/100+0.5) - 1
	return s.latencies[max(0, min(i, len(s.latencies)-1))]
}

// Max is the slowest latency.
func (s *Stat) Max() time.Duration { return s.Percentile(100) }

// Report formats r as tables.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mix %s, %d users, %d clients, %s\n", r.Mix, r.Users, r.Clients, r.Elapsed.Round(time.Millisecond))
	names := make([]string, 0, len(r.Ops))
	for n := range r.Ops {
		names = append(names, n)
	}
	sort.Strings(names)
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	fmt.Fprintf(&b, "%-20s %8s %9s %9s %9s %9s %9s  %s\n", "operation", "count", "per sec", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
	for _, n := range names {
		s := r.Ops[n]
		rate := "-"
		if !strings.HasPrefix(n, "setup/") {
			rate = strconv.FormatFloat(float64(s.Count)/r.Elapsed.Seconds(), 'f', 1, 64)
		}
		errs := "0"
		if s.Errors > 0 {
			var codes []string
			for c, k := range s.Codes {
				codes = append(codes, fmt.Sprintf("%s=%d", c, k))
			}
			sort.Strings(codes)
			errs = fmt.Sprintf("%d (%s)", s.Errors, strings.Join(codes, " "))
		}
		fmt.Fprintf(&b, "%-20s %8d %9s %9s %9s %9s %9s  %s\n", n, s.Count, rate, ms(s.Percentile(50)), ms(s.Percentile(95)), ms(s.Percentile(99)), ms(s.Max()), errs)
	}
	if r.Movements != nil {
		kinds := make([]string, 0, len(r.Movements))
		var total int64
		for k, v := range r.Movements {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, v))
			total += v
		}
		sort.Strings(kinds)
		all, pay := r.MovementsPerSecond()
		fmt.Fprintf(&b, "money movements committed: %d (%s)\n", total, strings.Join(kinds, " "))
		fmt.Fprintf(&b, "movements/s: %.1f   payments (authorizations + releases)/s: %.1f\n", all, pay)
		fmt.Fprintf(&b, "top-ups pending: %d at the end of the mix, %d after %s\n", r.PendingAtEnd, r.PendingAfterWait, r.SettledIn.Round(time.Millisecond))
	}
	if r.PeakRSS > 0 {
		fmt.Fprintf(&b, "server RSS: peak %.1f MiB, now %.1f MiB\n", float64(r.PeakRSS)/(1<<20), float64(r.RSS)/(1<<20))
	}
	if v := r.Verify; v != nil {
		if len(v.Violations) == 0 {
			fmt.Fprintf(&b, "verifyLedger: ok (%d transactions, %d accounts)\n", v.Transactions, v.Accounts)
		} else {
			fmt.Fprintf(&b, "verifyLedger: %d VIOLATION(S) in %d transactions:\n", len(v.Violations), v.Transactions)
			for _, s := range v.Violations {
				fmt.Fprintf(&b, "  VIOLATION %s\n", s)
			}
		}
	}
	return b.String()
}

// CheckLoopback refuses any target that is not this machine.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("load: %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("load: only loopback targets are allowed, not %q", host)
}

type recorder struct {
	mu  sync.Mutex
	ops map[string]*Stat
}

func (r *recorder) add(op string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.ops[op]
	if s == nil {
		s = &Stat{Codes: map[string]int{}}
		r.ops[op] = s
	}
	s.Count++
	if err != nil {
		s.Errors++
		s.Codes[codeOf(err)]++
	}
	s.latencies = append(s.latencies, d)
	s.sorted = false
}

func (o *Options) defaults() error {
	if err := CheckLoopback(o.URL); err != nil {
		return err
	}
	if o.Clients <= 0 {
		o.Clients = o.Users
	}
	if o.Users < o.Clients {
		o.Users = o.Clients
	}
	if o.Users <= 0 || o.Duration <= 0 {
		return fmt.Errorf("load: users and duration must be positive")
	}
	if o.Mix == nil {
		o.Mix, _ = ParseMix(DefaultMix)
	}
	if o.Origin == "" {
		o.Origin = o.defaultOrigin()
	}
	if o.Fund == "" {
		o.Fund = "500.00"
	}
	if o.Amount == "" {
		o.Amount = "0.10"
	}
	if o.SettleWait == 0 {
		o.SettleWait = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return nil
}

// defaultOrigin is the server's default WebAuthn origin: localhost on the
// URL's port.
func (o *Options) defaultOrigin() string {
	u, _ := url.Parse(o.URL)
	return "http://localhost:" + u.Port()
}

// Run prepares the users, runs the mix and measures. Setup errors abort
// the run; errors of the mix's operations are counted by code. When the
// ledger's verification finds violations, Run returns the Result and
// ErrViolations.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rec := &recorder{ops: map[string]*Stat{}}
	g := &gqlClient{
		c:   &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients * 2, MaxIdleConns: o.Clients * 4}},
		url: strings.TrimRight(o.URL, "/") + "/graphql", rec: rec,
	}
	// Setup is sequential: sign-up hashes a password with argon2id, whose
	// memory would otherwise add up in the server's peak RSS.
	stamp := time.Now().UnixNano() / 1e3 % 1e5 * 1000
	users := make([]*vuser, o.Users+1) // the last one is the hot seller
	for i := range users {
		u, err := setupUser(ctx, g, o.Origin, stamp+int64(i), o.Fund)
		if err != nil {
			return nil, fmt.Errorf("load: setting up user %d: %w", i, err)
		}
		users[i] = u
	}
	o.Progress(fmt.Sprintf("%d users registered, verified, with a passkey; waiting for their top-ups", len(users)))
	deadline := time.Now().Add(2 * time.Minute)
	for _, u := range users {
		if err := waitFunded(ctx, g, u, o.Fund, deadline); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	res := &Result{Users: o.Users, Clients: o.Clients, Mix: o.Mix, PendingAtEnd: -1, PendingAfterWait: -1}
	var head int64
	if o.Probe != nil {
		var err error
		if head, err = o.Probe.Head(ctx); err != nil {
			return nil, fmt.Errorf("load: probe: %w", err)
		}
	}
	o.Progress(fmt.Sprintf("running %s with %d clients for %s", o.Mix, o.Clients, o.Duration))

	hot := users[o.Users]
	buyers := users[:o.Users]
	seq := o.Mix.sequence()
	start := time.Now()
	end := start.Add(o.Duration)
	var wg sync.WaitGroup
	for c := 0; c < o.Clients; c++ {
		var own []int
		for i := c; i < len(buyers); i += o.Clients {
			own = append(own, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{g: g, amount: o.Amount, cursors: map[string]string{}}
			for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
				i := own[n%len(own)]
				seller := buyers[(i+1)%len(buyers)]
				if seller == buyers[i] { // one user: pay the hot seller
					seller = hot
				}
				w.run(ctx, seq[(n+c)%len(seq)], buyers[i], seller, hot, fmt.Sprintf("%d-%d-%d", stamp, c, n))
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Ops = rec.ops

	if o.Probe != nil {
		var err error
		if res.Movements, err = o.Probe.MovementsSince(ctx, head); err != nil {
			return nil, fmt.Errorf("load: probe: %w", err)
		}
		if res.PendingAtEnd, err = o.Probe.PendingTopUps(ctx); err != nil {
			return nil, fmt.Errorf("load: probe: %w", err)
		}
		res.PendingAfterWait = res.PendingAtEnd
		waitStart := time.Now()
		for res.PendingAfterWait > 0 && time.Since(waitStart) < o.SettleWait {
			time.Sleep(100 * time.Millisecond)
			if res.PendingAfterWait, err = o.Probe.PendingTopUps(ctx); err != nil {
				return nil, fmt.Errorf("load: probe: %w", err)
			}
		}
		res.SettledIn = time.Since(waitStart)
	}
	if o.PID > 0 {
		res.PeakRSS, res.RSS = ReadRSS(o.PID)
	}
	if o.Probe != nil {
		v, err := o.Probe.Verify(ctx)
		if err != nil {
			return res, fmt.Errorf("load: verify: %w", err)
		}
		res.Verify = v
		if len(v.Violations) > 0 {
			return res, ErrViolations
		}
	}
	return res, nil
}
