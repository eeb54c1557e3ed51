package dbtx_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"
)

// TestWritersGate: WithTx runs at most the gate's number of transactions
// of a client at once (SQLite: one; PostgreSQL: SetWriters), the others
// waiting in the process, and every one of them commits.
func TestWritersGate(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		limit := 1
		if d == testenv.Postgres {
			limit = 3
			dbtx.SetWriters(c, limit)
		}
		var running, peak, done atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			id := "gate-" + string(rune('a'+i))
			go func() {
				defer wg.Done()
				err := dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error {
					n := running.Add(1)
					defer running.Add(-1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
					return tx.Counter.Create().SetID(id).SetValue(1).Exec(context.Background())
				})
				if err != nil {
					t.Error(err)
					return
				}
				done.Add(1)
			}()
		}
		wg.Wait()
		if got := peak.Load(); got != int64(limit) {
			t.Errorf("%s: %d transactions ran at once, want at most (and, with 12 waiting, exactly) %d", d, got, limit)
		}
		if done.Load() != 12 {
			t.Errorf("%s: %d of 12 transactions committed", d, done.Load())
		}
	})
}
