// Package loadtest is danbao's load tool (`danbao load`): virtual users
// that sign up, verify their name, link a sandbox card, then loop over
// top-ups, balance reads and history pages against a running server,
// reporting throughput and latency percentiles per operation. It only
// targets loopback addresses, and stops by itself after its duration.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"danbao/internal/kyc"
)

// Options configure a run.
type Options struct {
	URL      string        // server base URL, loopback only
	Users    int           // concurrent virtual users
	Duration time.Duration // how long the loop phase runs
}

// Result is what a run measured.
type Result struct {
	Elapsed time.Duration
	Ops     map[string]*Stat
}

// Stat is one operation's figures.
type Stat struct {
	Count, Errors int
	latencies     []time.Duration
}

// Percentile returns the p-th percentile latency (0 < p <= 100).
func (s *Stat) Percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	l := slices.Clone(s.latencies)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[max(0, min(i, len(l)-1))]
}

// Report formats r as a table.
func (r *Result) Report() string {
	var b strings.Builder
	names := make([]string, 0, len(r.Ops))
	for n := range r.Ops {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "%-12s %8s %8s %10s %10s %10s %10s\n", "operation", "count", "errors", "per sec", "p50", "p95", "p99")
	for _, n := range names {
		s := r.Ops[n]
		fmt.Fprintf(&b, "%-12s %8d %8d %10.1f %10s %10s %10s\n", n, s.Count, s.Errors,
			float64(s.Count)/r.Elapsed.Seconds(), s.Percentile(50).Round(10*time.Microsecond),
			s.Percentile(95).Round(10*time.Microsecond), s.Percentile(99).Round(10*time.Microsecond))
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
		s = &Stat{}
		r.ops[op] = s
	}
	s.Count++
	if err != nil {
		s.Errors++
	}
	s.latencies = append(s.latencies, d)
}

// Run runs the load and returns its figures. Setup errors (a user who
// cannot sign up or link a card) abort the run.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return nil, err
	}
	if o.Users <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("load: users and duration must be positive")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Users * 2}}
	rec := &recorder{ops: map[string]*Stat{}}
	stamp := time.Now().UnixNano() % 1e6
	users := make([]*vuser, o.Users)
	for i := range users {
		users[i] = &vuser{c: client, url: strings.TrimRight(o.URL, "/") + "/graphql", rec: rec}
		if err := users[i].setup(ctx, stamp*1000+int64(i)); err != nil {
			return nil, fmt.Errorf("load: setting up user %d: %w", i, err)
		}
	}
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				u.loop(ctx, n)
			}
		}()
	}
	wg.Wait()
	return &Result{Elapsed: time.Since(start), Ops: rec.ops}, nil
}

type vuser struct {
	c     *http.Client
	url   string
	rec   *recorder
	token string
	card  string
	id    string
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct{ Message string } `json:"errors"`
}

// do runs one GraphQL operation, records it under op, and fails on
// top-level errors and on userErrors.
func (u *vuser) do(ctx context.Context, op, query string, vars map[string]any, out any) error {
	start := time.Now()
	err := u.post(ctx, query, vars, out)
	u.rec.add(op, time.Since(start), err)
	return err
}

func (u *vuser) post(ctx context.Context, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := u.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%s", r.Errors[0].Message)
	}
	for _, v := range r.Data {
		var p struct {
			UserErrors []struct{ Code, Message string }
		}
		if json.Unmarshal(v, &p) == nil && len(p.UserErrors) > 0 {
			return fmt.Errorf("%s: %s", p.UserErrors[0].Code, p.UserErrors[0].Message)
		}
		if out != nil {
			return json.Unmarshal(v, out)
		}
	}
	return nil
}

func (u *vuser) setup(ctx context.Context, n int64) error {
	var reg struct {
		AccessToken string
		User        struct{ ID string }
	}
	phone := fmt.Sprintf("+86137%08d", n%1e8)
	if err := u.do(ctx, "register", `mutation($p:String!){ register(input:{phone:$p, password:"load test password", displayName:"Load"}) { accessToken user { id } userErrors { code message } } }`,
		map[string]any{"p": phone}, &reg); err != nil {
		return err
	}
	u.token, u.id = reg.AccessToken, reg.User.ID
	first17 := fmt.Sprintf("110105%s%03d", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n/1000%9000)).Format("20060102"), n%1000)
	d, err := kyc.CheckDigit(first17)
	if err != nil {
		return err
	}
	if err := u.do(ctx, "verify", `mutation($id:String!){ submitRealNameVerification(input:{legalName:"Load Tester", idType: RESIDENT_ID, idNumber:$id}) { userErrors { code message } } }`,
		map[string]any{"id": first17 + string(d)}, nil); err != nil {
		return err
	}
	var card struct{ BankCard struct{ ID string } }
	if err := u.do(ctx, "linkCard", `mutation{ linkBankCard(input:{cardNumber:"4242424242424242", holderName:"Load Tester"}) { bankCard { id } userErrors { code message } } }`, nil, &card); err != nil {
		return err
	}
	u.card = card.BankCard.ID
	return nil
}

func (u *vuser) loop(ctx context.Context, n int) {
	_ = u.do(ctx, "topUp", `mutation($c:ID!,$k:String!){ topUp(input:{bankCardId:$c, amount:"1.00", idempotencyKey:$k}) { topUp { id } userErrors { code message } } }`,
		map[string]any{"c": u.card, "k": fmt.Sprintf("load-%s-%d", u.id, n)}, nil)
	_ = u.do(ctx, "balances", `{ me { balances { currency available held } } }`, nil, nil)
	_ = u.do(ctx, "history", `{ me { transactions(first: 20) { edges { node { amount direction balanceAfter } } } } }`, nil, nil)
}
