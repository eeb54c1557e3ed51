package app_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

// BenchmarkSubscribers1000 opens 1,000 WebSocket subscribers to
// balanceChanged on one instance, then commits b.N balance events and
// reports the delivery latency (commit to receipt at each subscriber)
// p50/p99, and the heap and goroutines per subscriber. Client and server
// run in one process, so the per-subscriber figures include the client's
// side of each socket: an upper bound for the server.
//
//	go test -run '^$' -bench Subscribers1000 -benchtime 20x ./internal/app/
func BenchmarkSubscribers1000(b *testing.B) {
	const subs = 1000
	e := testenv.New(b, testenv.SQLite, testenv.With("DANBAO_WS_MAX_CONNECTIONS_PER_USER", fmt.Sprint(subs)),
		testenv.With("DANBAO_LOG_LEVEL", "warn"))
	u := e.Register(b)
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	conns := make([]*testenv.WS, subs)
	for i := range conns {
		conns[i] = e.Subscriber(b, u.AccessToken)
		if err := conns[i].Subscribe(ctx, "b", balanceSub, nil); err != nil {
			b.Fatal(err)
		}
	}
	for e.App.Events.Waiters() < subs { // every subscription is following
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / subs / 1024
	gs := float64(runtime.NumGoroutine()-g0) / subs

	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		start := time.Now()
		err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
			_, err := events.Append(ctx, tx, events.Event{Type: "balance.changed", SubjectID: pulid.ID(u.ID), UserID: pulid.ID(u.ID),
				Payload: map[string]any{"currency": "CNY", "delta": "1.00"}})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var m balanceMsg
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				if _, err := c.NextData(rctx, &m); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(heap, "heapKiB/subscriber")
	b.ReportMetric(gs, "goroutines/subscriber")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}
