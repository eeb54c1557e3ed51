package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// serverProcess is one `danbao serve` running as a child OS process.
type serverProcess struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	logs string // path of its combined output
	done chan error
}

// startServer starts bin serve with env added to the test's environment
// and waits (at most a minute) until /readyz answers 200.
func startServer(t *testing.T, bin, name string, env []string) *serverProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir := t.TempDir()
	p := &serverProcess{base: "http://127.0.0.1:" + strconv.Itoa(port), logs: filepath.Join(dir, name+".log"), done: make(chan error, 1)}
	out, err := os.Create(p.logs)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = append(append(os.Environ(), env...),
		"DANBAO_ADDR=127.0.0.1:"+strconv.Itoa(port), "DANBAO_DATA_DIR="+dir,
		"DANBAO_WEBAUTHN_ORIGINS=http://localhost:"+strconv.Itoa(port))
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); _ = out.Close() }()
	t.Cleanup(func() {
		select {
		case err := <-p.done: // exited (stop or early exit)
			p.done <- err
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.logs)
			t.Logf("%s output:\n%s", name, b)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := http.Get(p.base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			b, _ := os.ReadFile(p.logs)
			t.Fatalf("%s exited before it was ready: %v\n%s", name, err, b)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within a minute", name)
		}
	}
}

// stop sends SIGTERM and fails the test unless the process exits 0.
func (p *serverProcess) stop(t *testing.T, name string) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("%s after SIGTERM: %v", name, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s still running a minute after SIGTERM", name)
	}
}

// TestEventCrossesServerProcesses: two real `danbao serve` processes on
// one PostgreSQL database, sharing the keys production instances share,
// with the periodic event poll an hour apart so only LISTEN/NOTIFY can
// carry the wake-up. A buyer subscribes on B; everything else (sign-up,
// top-up, passkey, the payment and its steps) goes through A; every
// event of the payment arrives on B in order. Both stop on SIGTERM with
// exit status 0.
func TestEventCrossesServerProcesses(t *testing.T) {
	url := testenv.DatabaseURL(t, testenv.Postgres)
	if testing.Short() {
		t.Skip("builds the binary and starts two server processes; skipped with -short")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "danbao")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(tmp, "jwt.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	kycKey, index, secret := make([]byte, 32), make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(kycKey)
	_, _ = rand.Read(index)
	_, _ = rand.Read(secret)
	env := []string{
		"DATABASE_URL=" + url, "DANBAO_SANDBOX=true", "DANBAO_EVENTS_POLL_INTERVAL=1h",
		"DANBAO_JWT_KEY_FILE=" + keyFile,
		"DANBAO_KYC_KEYS=1:" + base64.StdEncoding.EncodeToString(kycKey),
		"DANBAO_KYC_INDEX_KEY=" + base64.StdEncoding.EncodeToString(index),
		"DANBAO_BANK_CALLBACK_SECRET=" + base64.StdEncoding.EncodeToString(secret),
		"DANBAO_MUTATION_RATE=0", "DANBAO_LOG_LEVEL=debug",
		"DANBAO_RISK_BURST_MINUTE=100000", "DANBAO_RISK_BURST_MINUTE_HOLD=100000",
		"DANBAO_RISK_BURST_HOUR=100000", "DANBAO_RISK_BURST_HOUR_HOLD=100000",
	}
	// One after the other: the first start migrates the fresh schema.
	pa := startServer(t, bin, "A", env)
	pb := startServer(t, bin, "B", env)
	a := &escrowEnv{Env: testenv.Remote(pa.base, "http://localhost"+pa.base[len("http://127.0.0.1"):], testenv.Postgres)}
	b := testenv.Remote(pb.base, "", testenv.Postgres)

	// The buyer is funded through A; the sandbox bank settles the top-up
	// in the background, so wait until it has.
	u := a.RegisterVerified(t)
	card := linkCard(t, a.Env, u, cardOK)
	if r := topUp(t, a.Env, u, card, "500.00", "fund-"+u.ID); r.code() != "" {
		t.Fatalf("top-up: %s", r.code())
	}
	for deadline := time.Now().Add(30 * time.Second); balances(t, a.Env, u).Available != "500.00"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("top-up not settled: %+v", balances(t, a.Env, u))
		}
	}
	auth := a.Authenticator()
	a.AddPasskey(t, u, auth)
	buyer := buyer{User: u, auth: auth}
	seller := a.RegisterVerified(t)

	w := b.Subscriber(t, buyer.AccessToken)
	subscribePayments(t, w, "x", nil)
	id := a.pay(t, buyer, seller, "42.00")
	if r := a.ship(t, seller, id); r.code() != "" {
		t.Fatal(r.code())
	}
	if r := a.confirm(t, buyer.User, id); r.code() != "" {
		t.Fatal(r.code())
	}
	for _, typ := range []string{"CREATE", "AUTHORIZE", "SHIP", "CONFIRM"} {
		// An arrival bound, generous on a loaded machine; not a speed check.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var m struct{ PaymentEvents *payEvent }
		sub, err := w.NextData(ctx, &m)
		cancel()
		if err != nil {
			t.Fatalf("waiting on B for %s: %v", typ, err)
		}
		if ev := m.PaymentEvents; sub != "x" || ev == nil || ev.Type != typ || ev.Payment.ID != id || ev.Cursor == nil || *ev.Cursor == "" {
			t.Fatalf("on B: subscription %q event %+v, want %s of %s", sub, ev, typ, id)
		}
	}
	_ = w.Conn.CloseNow()

	pb.stop(t, "B")
	pa.stop(t, "A")
}
