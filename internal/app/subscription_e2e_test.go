package app_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// nodeProject returns node and the e2e folder when node and the given
// e2e packages are installed; otherwise it skips the test, or fails it
// with DANBAO_REQUIRE_BROWSER=1 (as CI runs).
func nodeProject(t *testing.T, packages ...string) (node, dir string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir = filepath.Join(filepath.Dir(file), "..", "..", "e2e")
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node is not on PATH")
	}
	for _, p := range packages {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			missing = append(missing, "e2e/node_modules has no "+p+" (run: npm ci --prefix e2e)")
		}
	}
	if len(missing) > 0 {
		reason := "needs: " + strings.Join(missing, "; ")
		if os.Getenv(RequireBrowserEnv) == "1" {
			t.Fatalf("%s (%s=1)", reason, RequireBrowserEnv)
		}
		t.Skip(reason)
	}
	return node, dir
}

// nodeScript is a running e2e script whose output lines the test reads.
type nodeScript struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	mu    sync.Mutex
	seen  []string
}

// startNode starts node e2e/<script> args.
func startNode(ctx context.Context, t *testing.T, node, dir, script string, args ...string) *nodeScript {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &nodeScript{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return s
}

// await reads output until a line satisfies ok and returns it; an "error"
// line or the end of the output fails the test.
func (s *nodeScript) await(what string, ok func(line string) bool) string {
	s.t.Helper()
	for line := range s.lines {
		s.t.Logf("node: %s", line)
		s.mu.Lock()
		s.seen = append(s.seen, line)
		s.mu.Unlock()
		if strings.HasPrefix(line, "error") {
			s.t.Fatalf("the script failed waiting for %s: %s", what, line)
		}
		if ok(line) {
			return line
		}
	}
	s.t.Fatalf("the script ended before %s", what)
	return ""
}

// wsEvent is one event line of e2e/subscriptions.mjs.
type wsEvent struct{ typ, payment, cursor string }

// events returns the events the named client printed, in order.
func (s *nodeScript) events(client string) []wsEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wsEvent
	for _, line := range s.seen {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == client && f[1] == "event" {
			out = append(out, wsEvent{f[2], f[3], f[4]})
		}
	}
	return out
}

// TestGraphQLWSClientResumes: the graphql-ws npm client (e2e/subscriptions.mjs)
// follows a buyer's payments through a whole escrow story (create,
// authorize, ship, confirm) and a second payment (create, cancel). One
// client stays connected and receives every event in order, each with a
// cursor. The other disconnects after authorize, misses ship and confirm,
// reconnects with its last cursor, and receives exactly those two, then
// the live ones: the same events with the same cursors, none twice.
func TestGraphQLWSClientResumes(t *testing.T) {
	node, dir := nodeProject(t, "graphql-ws", "ws")
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		// The clients start after the last transition before the story.
		before := e.create(t, b, seller, "1.00", "before-story")
		var audit struct {
			Payment struct {
				Events struct {
					Edges []struct{ Node struct{ Cursor string } }
				}
			}
		}
		e.Do(t, b.AccessToken, `query($id: ID!){ payment(id:$id){ events(first: 1){ edges { node { cursor } } } } }`,
			map[string]any{"id": before.Payment.ID}).Decode(t, &audit)
		if len(audit.Payment.Events.Edges) != 1 || audit.Payment.Events.Edges[0].Node.Cursor == "" {
			t.Fatalf("audit trail: %+v", audit)
		}
		start := audit.Payment.Events.Edges[0].Node.Cursor

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ws := "ws" + strings.TrimPrefix(e.Server.URL, "http") + "/graphql"
		s := startNode(ctx, t, node, dir, "subscriptions.mjs", ws, b.AccessToken, start, "2", "6")
		s.await("subscribed", func(l string) bool { return l == "subscribed" })

		id := e.pay(t, b, seller, "300.00") // CREATE, AUTHORIZE
		dropped := strings.TrimPrefix(s.await("the disconnect", func(l string) bool {
			return strings.HasPrefix(l, "resuming disconnected ")
		}), "resuming disconnected ")
		if r := e.ship(t, seller, id); r.code() != "" {
			t.Fatal(r.code())
		}
		if r := e.confirm(t, b.User, id); r.code() != "" {
			t.Fatal(r.code())
		}
		if _, err := io.WriteString(s.stdin, "resume\n"); err != nil {
			t.Fatal(err)
		}
		s.await("the missed events", func(string) bool { return len(s.events("resuming")) == 4 })
		next := e.create(t, b, seller, "5.00", "after-resume") // live for both
		if r := e.cancel(t, b.User, next.Payment.ID); r.code() != "" {
			t.Fatal(r.code())
		}
		s.await("ok", func(l string) bool { return l == "ok" })

		want := []wsEvent{{"CREATE", id, ""}, {"AUTHORIZE", id, ""}, {"SHIP", id, ""}, {"CONFIRM", id, ""},
			{"CREATE", next.Payment.ID, ""}, {"CANCEL", next.Payment.ID, ""}}
		steady, resumed := s.events("steady"), s.events("resuming")
		if len(steady) != len(want) || len(resumed) != len(want) {
			t.Fatalf("steady %v, resuming %v", steady, resumed)
		}
		cursors := map[string]bool{}
		for i, w := range want {
			if steady[i].typ != w.typ || steady[i].payment != w.payment || resumed[i].typ != w.typ || resumed[i].payment != w.payment {
				t.Fatalf("event %d: steady %v, resuming %v, want %s of %s", i, steady[i], resumed[i], w.typ, w.payment)
			}
			if steady[i].cursor == "" || steady[i].cursor != resumed[i].cursor || cursors[steady[i].cursor] {
				t.Fatalf("cursor %d: steady %q, resuming %q", i, steady[i].cursor, resumed[i].cursor)
			}
			cursors[steady[i].cursor] = true
		}
		if dropped != steady[1].cursor {
			t.Fatalf("disconnected at %q, want AUTHORIZE's %q", dropped, steady[1].cursor)
		}
	})
}
