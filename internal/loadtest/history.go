package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/ledgertransaction"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/ledger"
	"danbao/internal/money"
)

// seedBatch is how many journal transactions SeedHistory writes per
// database transaction.
const seedBatch = 5000

// SeedHistory writes n journal transactions to user's CNY available
// account, one a second from start: two TOPUPs of 0.02 from custody for
// each TRANSFER of 0.01 to other. It writes the rows in bulk, batch by
// batch, but exactly as ledger.Post would: each batch holds the accounts'
// locks and the ledger counter's (Post's lock order), numbers its
// transactions after the counter, hash-chains them, records each
// posting's balance after it and adds the batch's sums to the cached
// balances, so the ledger verifies afterwards and concurrent postings stay
// in order. progress, when not nil, is called after each batch.
func SeedHistory(ctx context.Context, client *ent.Client, user, other pulid.ID, n int, start time.Time, progress func(done int)) error {
	l := ledger.New(client)
	for done := 0; done < n; {
		b := min(seedBatch, n-done)
		err := dbtx.WithTx(ctx, client, func(tx *ent.Tx) error {
			return seedBatchTx(ctx, tx, l, user, other, done, b, start)
		})
		if err != nil {
			return fmt.Errorf("seed history: %w", err)
		}
		done += b
		if progress != nil {
			progress(done)
		}
	}
	return nil
}

func seedBatchTx(ctx context.Context, tx *ent.Tx, l *ledger.Service, user, other pulid.ID, from, b int, start time.Time) error {
	ua, err := l.UserAccount(ctx, tx, user, money.CNY)
	if err != nil {
		return err
	}
	oa, err := l.UserAccount(ctx, tx, other, money.CNY)
	if err != nil {
		return err
	}
	ca, err := l.PlatformAccount(ctx, tx, ledger.KindCustody, money.CNY)
	if err != nil {
		return err
	}
	if err := l.Lock(ctx, tx, ua.ID, oa.ID, ca.ID); err != nil {
		return err
	}
	bal := map[pulid.ID]int64{}
	for _, id := range []pulid.ID{ua.ID, oa.ID, ca.ID} {
		a, err := tx.Account.Get(ctx, id)
		if err != nil {
			return err
		}
		bal[id] = a.Balance
	}
	before := map[pulid.ID]int64{ua.ID: bal[ua.ID], oa.ID: bal[oa.ID], ca.ID: bal[ca.ID]}
	head, err := tx.Counter.UpdateOneID(ledger.CounterID).AddValue(int64(b)).Save(ctx)
	if err != nil {
		return err
	}
	seq, prev := head.Value-int64(b), head.Hash
	if prev == nil {
		prev = []byte{}
	}
	type leg struct {
		acc    pulid.ID
		amount int64
	}
	const chunk = 1000
	for c := 0; c < b; c += chunk {
		m := min(chunk, b-c)
		txs := make([]*ent.LedgerTransactionCreate, m)
		legs := make([][]leg, m)
		times := make([]time.Time, m)
		kinds := make([]string, m)
		for i := range m {
			k := from + c + i
			seq++
			kinds[i] = "TOPUP"
			legs[i] = []leg{{ca.ID, -2}, {ua.ID, 2}}
			if k%3 == 2 {
				kinds[i] = "TRANSFER"
				legs[i] = []leg{{ua.ID, -1}, {oa.ID, 1}}
			}
			times[i] = start.Add(time.Duration(k) * time.Second).UTC().Truncate(time.Microsecond)
			content := ledger.Content{Seq: seq, Kind: kinds[i], Currency: string(money.CNY), Memo: "seeded", CreatedAt: times[i]}
			for _, g := range legs[i] {
				content.Postings = append(content.Postings, ledger.PostingContent{AccountID: string(g.acc), Amount: g.amount})
			}
			hash := ledger.Hash(prev, content)
			txs[i] = tx.LedgerTransaction.Create().SetSeq(seq).SetKind(kinds[i]).SetCurrency(string(money.CNY)).
				SetRefID("").SetMemo("seeded").SetPrevHash(prev).SetHash(hash).SetCreatedAt(times[i])
			prev = hash
		}
		saved, err := tx.LedgerTransaction.CreateBulk(txs...).Save(ctx)
		if err != nil {
			return err
		}
		ps := make([]*ent.PostingCreate, 0, 2*m)
		for i, t := range saved {
			for _, g := range legs[i] {
				bal[g.acc] += g.amount
				ps = append(ps, tx.Posting.Create().SetTransactionID(t.ID).SetAccountID(g.acc).SetSeq(t.Seq).
					SetKind(kinds[i]).SetAmount(g.amount).SetCurrency(string(money.CNY)).SetBalanceAfter(bal[g.acc]).
					SetDay(times[i].Format(time.DateOnly)).SetCreatedAt(times[i]))
			}
		}
		if err := tx.Posting.CreateBulk(ps...).Exec(ctx); err != nil {
			return err
		}
	}
	for id, v := range bal {
		if d := v - before[id]; d != 0 {
			if err := tx.Account.UpdateOneID(id).AddBalance(d).Exec(ctx); err != nil {
				return err
			}
		}
	}
	// The ledger's stamps must not go back as seq grows (ledger.History
	// bounds time filters by seq): the counter keeps the latest. Seeded
	// history lies in the past, so only its own entries are in time order;
	// the seeded user has no others.
	lastUS := start.Add(time.Duration(from+b-1) * time.Second).UTC().UnixMicro()
	return tx.Counter.UpdateOneID(ledger.CounterID).SetHash(prev).SetStampedUs(max(head.StampedUs, lastUS)).Exec(ctx)
}

// HistoryOptions configure HistoryAtScale.
type HistoryOptions struct {
	URL, Origin string
	Client      *ent.Client // the server's database, for seeding
	Entries     int         // history length, default 1,000,000
	Samples     int         // requests per case, default 200
	// CaseBudget bounds the time spent on one case: it stops after this
	// long with the samples taken so far (default 30s).
	CaseBudget time.Duration
	// Reuse measures the history seeded by an earlier run (the user with
	// the most entries, signed in with the load tool's password) instead
	// of seeding a new one.
	Reuse bool
	// AfterSeed, when set, runs between the seeding and the measurements:
	// `danbao load history` refreshes PostgreSQL's planner statistics
	// there (ANALYZE), as autovacuum would after a million inserts, so
	// that plans are chosen on the real row counts.
	AfterSeed func(ctx context.Context) error
	Progress  func(string)
}

// HistoryCase is one measured page request.
type HistoryCase struct {
	Name           string
	Entries        int // entries in each response
	P50, P99, Max  time.Duration
	Samples        int
	Errors         int
	FirstErrorCode string
}

// HistoryResult is what HistoryAtScale measured.
type HistoryResult struct {
	Entries int
	Seeding time.Duration
	Cases   []HistoryCase
	Verify  *Verification
}

// Report formats r as a table.
func (r *HistoryResult) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "history of %d entries (seeded in %s); me.transactions(first: 50), sequential requests\n", r.Entries, r.Seeding.Round(time.Millisecond))
	fmt.Fprintf(&b, "%-34s %8s %8s %9s %9s %9s  %s\n", "case", "entries", "samples", "p50 ms", "p99 ms", "max ms", "errors")
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	for _, c := range r.Cases {
		errs := "0"
		if c.Errors > 0 {
			errs = fmt.Sprintf("%d (%s)", c.Errors, c.FirstErrorCode)
		}
		fmt.Fprintf(&b, "%-34s %8d %8d %9s %9s %9s  %s\n", c.Name, c.Entries, c.Samples, ms(c.P50), ms(c.P99), ms(c.Max), errs)
	}
	if v := r.Verify; v != nil {
		if len(v.Violations) == 0 {
			fmt.Fprintf(&b, "verifyLedger: ok (%d transactions, %d accounts)\n", v.Transactions, v.Accounts)
		} else {
			fmt.Fprintf(&b, "verifyLedger: %d VIOLATION(S): %s\n", len(v.Violations), strings.Join(v.Violations, "; "))
		}
	}
	return b.String()
}

// HistoryAtScale prepares a user with Entries ledger entries (SeedHistory),
// then measures me.transactions(first: 50) at the start, the middle and
// the end of that history (after cursors there) and with each filter
// (types, currency, from, to), and verifies the ledger. It returns
// ErrViolations with the result when the verification fails.
func HistoryAtScale(ctx context.Context, o HistoryOptions) (*HistoryResult, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return nil, err
	}
	if o.Entries <= 0 {
		o.Entries = 1_000_000
	}
	if o.Samples <= 0 {
		o.Samples = 200
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Origin == "" {
		o.Origin = (&Options{URL: o.URL}).defaultOrigin()
	}
	if o.CaseBudget <= 0 {
		o.CaseBudget = 30 * time.Second
	}
	g := &gqlClient{c: &http.Client{Timeout: 60 * time.Second}, url: strings.TrimRight(o.URL, "/") + "/graphql"}
	res := &HistoryResult{Entries: o.Entries}
	var (
		u     *vuser
		start time.Time
		err   error
	)
	if o.Reuse {
		if u, start, res.Entries, err = seededUser(ctx, g, o.Client); err != nil {
			return nil, err
		}
		o.Entries = res.Entries
		o.Progress(fmt.Sprintf("reusing user %s with %d entries", u.id, res.Entries))
	} else {
		stamp := time.Now().UnixNano()/1e3%1e5*1000 + 500
		if u, err = setupUser(ctx, g, o.Origin, stamp, ""); err != nil {
			return nil, err
		}
		other, err := setupUser(ctx, g, o.Origin, stamp+1, "")
		if err != nil {
			return nil, err
		}
		start = time.Now().UTC().Add(-time.Duration(o.Entries+3600) * time.Second).Truncate(time.Second)
		t0 := time.Now()
		last := t0
		err = SeedHistory(ctx, o.Client, pulid.ID(u.id), pulid.ID(other.id), o.Entries, start, func(done int) {
			if time.Since(last) > 5*time.Second || done == o.Entries {
				last = time.Now()
				o.Progress(fmt.Sprintf("seeded %d of %d entries in %s", done, o.Entries, time.Since(t0).Round(time.Second)))
			}
		})
		if err != nil {
			return nil, err
		}
		res.Seeding = time.Since(t0)
	}
	if o.AfterSeed != nil {
		if err := o.AfterSeed(ctx); err != nil {
			return nil, err
		}
	}

	acc, err := o.Client.Account.Query().Where(account.OwnerID(pulid.ID(u.id)), account.KindEQ(account.KindAVAILABLE)).Only(ctx)
	if err != nil {
		return nil, err
	}
	cursorAt := func(pos int) (string, error) {
		p, err := o.Client.Posting.Query().Where(posting.AccountID(acc.ID)).
			Order(ent.Desc(posting.FieldSeq), ent.Desc(posting.FieldID)).Offset(pos).First(ctx)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		ent.Cursor{ID: p.ID, Value: p.Seq}.MarshalGQL(&buf)
		return strconv.Unquote(buf.String())
	}
	mid, err := cursorAt(o.Entries / 2)
	if err != nil {
		return nil, err
	}
	end, err := cursorAt(o.Entries - 51)
	if err != nil {
		return nil, err
	}
	ts := func(k int) string { return start.Add(time.Duration(k) * time.Second).Format(time.RFC3339) }
	cases := []struct {
		name   string
		vars   map[string]any
		expect int
	}{
		{"start (first page)", nil, 50},
		{"middle (after half)", map[string]any{"after": mid}, 50},
		{"end (the last 50)", map[string]any{"after": end}, 50},
		{"types: [TOPUP]", map[string]any{"filter": map[string]any{"types": []string{"TOPUP"}}}, 50},
		{"types: [TRANSFER]", map[string]any{"filter": map[string]any{"types": []string{"TRANSFER"}}}, 50},
		{"types: [WITHDRAWAL] (none)", map[string]any{"filter": map[string]any{"types": []string{"WITHDRAWAL"}}}, 0},
		{"currency: CNY", map[string]any{"filter": map[string]any{"currency": "CNY"}}, 50},
		{"from: the last hour", map[string]any{"filter": map[string]any{"from": ts(o.Entries - 3600)}}, 50},
		{"to: the middle", map[string]any{"filter": map[string]any{"to": ts(o.Entries / 2)}}, 50},
		{"from-to: one hour in the middle", map[string]any{"filter": map[string]any{"from": ts(o.Entries / 2), "to": ts(o.Entries/2 + 3600)}}, 50},
		{"to: before the history (none)", map[string]any{"filter": map[string]any{"to": ts(-10)}}, 0},
		{"middle, types: [TRANSFER]", map[string]any{"after": mid, "filter": map[string]any{"types": []string{"TRANSFER"}}}, 50},
	}
	o.Progress("measuring")
	rec := &recorder{ops: map[string]*Stat{}}
	for _, c := range cases {
		hc := HistoryCase{Name: c.name, Samples: o.Samples, Entries: -1}
		began := time.Now()
		for i := range o.Samples {
			if time.Since(began) > o.CaseBudget {
				hc.Samples = i
				break
			}
			var p historyPage
			took, err := g.post(ctx, u.token, HistoryQuery, c.vars, &p)
			rec.add(c.name, took, err)
			if err != nil {
				hc.Errors++
				hc.FirstErrorCode = codeOf(err)
				continue
			}
			if n := len(p.Transactions.Edges); n != c.expect {
				hc.Errors++
				hc.FirstErrorCode = fmt.Sprintf("GOT_%d_ENTRIES", n)
			}
			hc.Entries = len(p.Transactions.Edges)
		}
		s := rec.ops[c.name]
		hc.P50, hc.P99, hc.Max = s.Percentile(50), s.Percentile(99), s.Max()
		res.Cases = append(res.Cases, hc)
	}
	o.Progress(res.Report() + "verifying the ledger")
	v, err := DBProbe{Client: o.Client}.Verify(ctx)
	if err != nil {
		return res, err
	}
	res.Verify = v
	if len(v.Violations) > 0 {
		return res, ErrViolations
	}
	return res, nil
}

// seededUser signs in as the user with the most ledger entries (seeded by
// an earlier HistoryAtScale, whose password the load tool sets) and
// returns them, the time of their first entry and their entry count.
func seededUser(ctx context.Context, g *gqlClient, client *ent.Client) (*vuser, time.Time, int, error) {
	// The user of the last seeded top-up: its credit is to their account.
	last, err := client.LedgerTransaction.Query().Where(ledgertransaction.Memo("seeded"), ledgertransaction.Kind("TOPUP")).
		Order(ent.Desc(ledgertransaction.FieldSeq)).WithPostings().First(ctx)
	if ent.IsNotFound(err) {
		return nil, time.Time{}, 0, fmt.Errorf("load history: no seeded history to reuse")
	}
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	var best pulid.ID
	for _, p := range last.Edges.Postings {
		if p.Amount > 0 {
			best = p.AccountID
		}
	}
	n, err := client.Posting.Query().Where(posting.AccountID(best)).Count(ctx)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	a, err := client.Account.Get(ctx, best)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	first, err := client.Posting.Query().Where(posting.AccountID(best)).Order(ent.Asc(posting.FieldSeq)).First(ctx)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	usr, err := client.User.Get(ctx, a.OwnerID)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	var login struct{ AccessToken string }
	if err := g.do(ctx, "", "", `mutation($p:String!){ login(input:{phone:$p, password:"`+loadPassword+`"}) { accessToken userErrors { code message } } }`,
		map[string]any{"p": usr.Phone}, &login); err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("sign in as %s: %w", usr.ID, err)
	}
	return &vuser{token: login.AccessToken, id: string(usr.ID)}, first.CreatedAt, n, nil
}
