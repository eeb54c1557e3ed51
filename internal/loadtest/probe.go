package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"

	"danbao/ent"
	"danbao/ent/ledgertransaction"
	"danbao/ent/topup"
	"danbao/internal/ledger"
)

// DBProbe reads the server's database through its own connection pool.
type DBProbe struct{ Client *ent.Client }

// Head is the sequence number of the last committed journal transaction.
func (p DBProbe) Head(ctx context.Context) (int64, error) {
	ids, err := p.Client.LedgerTransaction.Query().Order(ent.Desc(ledgertransaction.FieldSeq)).Limit(1).Select(ledgertransaction.FieldSeq).Ints(ctx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return int64(ids[0]), nil
}

// MovementsSince counts journal transactions after seq, by kind.
func (p DBProbe) MovementsSince(ctx context.Context, seq int64) (map[string]int64, error) {
	var rows []struct {
		Kind  string `json:"kind"`
		Count int64  `json:"count"`
	}
	err := p.Client.LedgerTransaction.Query().Where(ledgertransaction.SeqGT(seq)).
		GroupBy(ledgertransaction.FieldKind).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Kind] = r.Count
	}
	return out, nil
}

// PendingTopUps counts top-ups not settled yet.
func (p DBProbe) PendingTopUps(ctx context.Context) (int64, error) {
	n, err := p.Client.TopUp.Query().Where(topup.StatusEQ(topup.StatusPENDING)).Count(ctx)
	return int64(n), err
}

// Verify runs the ledger's verification (what verifyLedger and `danbao
// ledger verify` run).
func (p DBProbe) Verify(ctx context.Context) (*Verification, error) {
	r, err := ledger.New(p.Client).Verify(ctx)
	if err != nil {
		return nil, err
	}
	v := &Verification{Transactions: r.Transactions, Accounts: r.Accounts}
	for _, x := range r.Violations {
		v.Violations = append(v.Violations, x.Kind+": "+x.Message)
	}
	return v, nil
}

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }

// statusKB reads a "Key:   1234 kB" line of /proc/<pid>/status.
func statusKB(raw []byte, key string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}
