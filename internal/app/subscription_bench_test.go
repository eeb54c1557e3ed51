package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"

	"github.com/coder/websocket"
)

// benchClientsEnv, when set ("URL TOKEN N"), makes
// TestBenchSubscriberClients the client side of BenchmarkSubscribers1000.
const benchClientsEnv = "DANBAO_BENCH_CLIENTS"

// BenchmarkSubscribers1000 measures one instance serving 1,000 WebSocket
// subscribers to balanceChanged. The subscribers run in a child process
// (this test binary, as TestBenchSubscriberClients), so the figures of
// this process are the server's alone: heap and goroutines per
// subscriber, measured after every subscription is following the outbox.
// Each of b.N iterations commits one balance event and waits until all
// 1,000 subscribers received it; the delivery latency (commit to receipt,
// wall clock on one machine) is reported as p50 and p99 over every
// delivery. Run it with:
//
//	go test -run '^$' -bench Subscribers1000 -benchtime 20x ./internal/app/
func BenchmarkSubscribers1000(b *testing.B) {
	const subs = 1000
	e := testenv.New(b, testenv.SQLite, testenv.With("DANBAO_WS_MAX_CONNECTIONS_PER_USER", fmt.Sprint(subs)),
		testenv.With("DANBAO_LOG_LEVEL", "warn"))
	u := e.Register(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestBenchSubscriberClients$", "-test.v")
	cmd.Env = append(os.Environ(), benchClientsEnv+"="+strings.Join([]string{
		"ws" + strings.TrimPrefix(e.Server.URL, "http") + "/graphql", u.AccessToken, strconv.Itoa(subs)}, " "))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 4*subs)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for line := range lines {
		if line == "ready" {
			break
		}
		if strings.HasPrefix(line, "error") {
			b.Fatal(line)
		}
	}
	for e.App.Events.Waiters() < subs+1 { // every subscription (and the webhook sender) is following
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / subs / 1024
	gs := float64(runtime.NumGoroutine()-g0) / subs

	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		var seq int64
		start := time.Now()
		err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
			ev, err := events.Append(ctx, tx, events.Event{Type: "balance.changed", SubjectID: pulid.ID(u.ID), UserID: pulid.ID(u.ID),
				Payload: map[string]any{"currency": "CNY", "delta": "1.00"}})
			if err == nil {
				seq = ev.Seq
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		cursor := events.Cursor(seq)
		for got := 0; got < subs; {
			line, ok := <-lines
			if !ok {
				b.Fatal("the clients ended")
			}
			f := strings.Fields(line)
			if len(f) != 2 || f[0] != cursor {
				b.Fatalf("unexpected client line %q (want cursor %s)", line, cursor)
			}
			at, _ := strconv.ParseInt(f[1], 10, 64)
			mu.Lock()
			lat = append(lat, time.Unix(0, at).Sub(start))
			mu.Unlock()
			got++
		}
	}
	b.StopTimer()
	b.ReportMetric(heap, "server-heapKiB/subscriber")
	b.ReportMetric(gs, "server-goroutines/subscriber")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// TestBenchSubscriberClients is the client process of
// BenchmarkSubscribers1000 (skipped unless DANBAO_BENCH_CLIENTS is set):
// it opens N sockets, subscribes each to balanceChanged, prints "ready",
// then prints "<cursor> <unix nanoseconds>" for every event received.
func TestBenchSubscriberClients(t *testing.T) {
	spec := os.Getenv(benchClientsEnv)
	if spec == "" {
		t.Skip("the client side of BenchmarkSubscribers1000")
	}
	f := strings.Fields(spec)
	url, token := f[0], f[1]
	n, _ := strconv.Atoi(f[2])
	ctx := context.Background()
	var outMu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	emit := func(s string) {
		outMu.Lock()
		fmt.Fprintln(w, s)
		_ = w.Flush()
		outMu.Unlock()
	}
	send := func(c *websocket.Conn, m map[string]any) error {
		raw, _ := json.Marshal(m)
		return c.Write(ctx, websocket.MessageText, raw)
	}
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err == nil {
			err = send(c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
		}
		if err == nil {
			_, _, err = c.Read(ctx) // connection_ack
		}
		if err == nil {
			err = send(c, map[string]any{"id": "b", "type": "subscribe", "payload": map[string]any{"query": balanceSub}})
		}
		if err != nil {
			emit("error " + err.Error())
			return
		}
		conns[i] = c
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, raw, err := c.Read(ctx)
				if err != nil {
					return
				}
				at := time.Now().UnixNano()
				var m struct {
					Type    string
					Payload struct {
						Data balanceMsg
					}
				}
				if json.Unmarshal(raw, &m) != nil || m.Type != "next" {
					if m.Type == "ping" {
						_ = send(c, map[string]any{"type": "pong"})
					}
					continue
				}
				emit(m.Payload.Data.BalanceChanged.Cursor + " " + strconv.FormatInt(at, 10))
			}
		}()
	}
	emit("ready")
	wg.Wait()
}
