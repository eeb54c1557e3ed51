package resolvers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"danbao/auth"
	"danbao/internal/apperr"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// Close codes of subscription Sockets, as graphql-transport-ws names them
// (see also websocket_protocol.go).
const (
	// CloseUnauthorized: a subscribe before the connection was acknowledged.
	CloseUnauthorized = 4401
	// CloseForbidden: connection_init refused (no token, a bad token, too
	// many connections of the caller), or the token expired: the
	// protocol's code for a rejected connection, on which graphql-ws
	// clients retry (fetching a fresh token).
	CloseForbidden = 4403
	// CloseGoingAway: the server is shutting down; reconnect (elsewhere).
	CloseGoingAway = 1001
)

// WebsocketConfig are the limits of subscription Sockets.
type WebsocketConfig struct {
	Tokens      *auth.Tokens
	InitTimeout time.Duration // how long a socket may wait before connection_init
	KeepAlive   time.Duration // ping interval
	// MaxSubscriptions bounds the subscriptions of one connection and
	// MaxConnectionsPerUser the connections of one user on this instance.
	MaxSubscriptions      int
	MaxConnectionsPerUser int
	// Origins are the browser origins allowed to open a socket (the CORS
	// origins; "*" allows any). Clients that send no Origin (apps,
	// servers) are not browsers and are allowed.
	Origins []string
}

// Sockets tracks the open subscription Sockets of one instance.
type Sockets struct {
	cfg   WebsocketConfig
	mu    sync.Mutex
	users map[string]int       // open connections per user
	open  map[*socket]struct{} // every accepted socket, for shutdown
}

// socket is one accepted connection.
type socket struct {
	conn    transport.WebsocketConn
	mu      sync.Mutex
	subs    int
	closed  bool
	release func() // gives back the user's connection slot
}

type socketKey struct{}

// NewSockets returns an empty set of sockets with the given limits.
func NewSockets(cfg WebsocketConfig) *Sockets {
	return &Sockets{cfg: cfg, users: map[string]int{}, open: map[*socket]struct{}{}}
}

// transport returns gqlgen's WebSocket transport with danbao's checks.
func (s *Sockets) transport() transport.Websocket {
	return transport.Websocket{
		Implementation: acceptor{s},
		// No InitTimeout: protocolConn closes a socket silent past it with
		// 4408 (gqlgen's own timeout would close with 1002).
		InitFunc:              s.init,
		KeepAlivePingInterval: s.cfg.KeepAlive,
		PingPongInterval:      s.cfg.KeepAlive,
	}
}

// acceptor accepts the socket with the origin allowlist and remembers it.
type acceptor struct{ s *Sockets }

func (a acceptor) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	ao := coderws.AcceptOptions{}
	if slices.Contains(a.s.cfg.Origins, "*") {
		ao.InsecureSkipVerify = true
	} else {
		for _, o := range a.s.cfg.Origins {
			if u, err := url.Parse(o); err == nil && u.Host != "" {
				ao.OriginPatterns = append(ao.OriginPatterns, u.Host)
			}
		}
	}
	// The server's read and write timeouts are deadlines on the connection,
	// which outlive the hijack: clear them, or every socket would die after
	// DANBAO_HTTP_WRITE_TIMEOUT. Keep-alive pings detect dead peers.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	inner, err := transport.CoderWebsocketImplementation{AcceptOptions: ao}.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	conn := newProtocolConn(inner, a.s.cfg.InitTimeout)
	sock := &socket{conn: conn}
	if holder, ok := r.Context().Value(socketKey{}).(*socketHolder); ok {
		holder.sock = sock
	}
	a.s.mu.Lock()
	a.s.open[sock] = struct{}{}
	a.s.mu.Unlock()
	context.AfterFunc(r.Context(), func() {
		a.s.mu.Lock()
		delete(a.s.open, sock)
		a.s.mu.Unlock()
		if sock.release != nil {
			sock.release()
		}
	})
	return conn, nil
}

// socketHolder lets the init function find the socket of its request.
type socketHolder struct{ sock *socket }

// Middleware puts a socketHolder into WebSocket upgrade requests.
func (s *Sockets) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			r = r.WithContext(context.WithValue(r.Context(), socketKey{}, &socketHolder{}))
		}
		next.ServeHTTP(w, r)
	})
}

// closeWith closes the socket with a code, once.
func (k *socket) closeWith(code int, reason string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	k.closed = true
	_ = k.conn.WriteClose(code, reason)
	_ = k.conn.Close()
}

// init checks the connection_init payload's token, takes one of the
// user's connection slots and schedules the close at the token's expiry.
func (s *Sockets) init(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	header := p.Authorization()
	if header == "" {
		header, _ = p["authorization"].(string)
	}
	actx, ok := s.cfg.Tokens.Authenticate(ctx, header)
	if !ok {
		return closing(ctx, CloseForbidden, "Forbidden"), nil, errors.New("a valid access token is required in the connection_init payload")
	}
	var user string
	var expires time.Time
	if who, ok := auth.FromContext(actx); ok {
		user, expires = "user:"+string(who.UserID), who.Expires
	} else if p, ok := auth.PartnerFromContext(actx); ok {
		user, expires = "partner:"+string(p.ID), p.Expires
	}
	holder, _ := ctx.Value(socketKey{}).(*socketHolder)
	if holder == nil || holder.sock == nil {
		return closing(ctx, CloseForbidden, "Forbidden"), nil, errors.New("not a WebSocket connection")
	}
	s.mu.Lock()
	if s.users[user] >= s.cfg.MaxConnectionsPerUser {
		s.mu.Unlock()
		return closing(ctx, CloseForbidden, "Forbidden: too many connections"), nil, errors.New("too many connections for this user")
	}
	s.users[user]++
	s.mu.Unlock()
	sock := holder.sock
	var once sync.Once
	sock.release = func() {
		once.Do(func() {
			s.mu.Lock()
			if s.users[user]--; s.users[user] <= 0 {
				delete(s.users, user)
			}
			s.mu.Unlock()
		})
	}
	if !expires.IsZero() {
		t := time.AfterFunc(time.Until(expires), func() { sock.closeWith(CloseForbidden, "Forbidden: token expired") })
		context.AfterFunc(ctx, func() { t.Stop() })
	}
	return context.WithValue(actx, socketKey{}, holder), nil, nil
}

func closing(ctx context.Context, code int, reason string) context.Context {
	return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, code), reason)
}

// Shutdown closes every open socket with 1001 (going away).
func (s *Sockets) Shutdown() {
	s.mu.Lock()
	open := make([]*socket, 0, len(s.open))
	for k := range s.open {
		open = append(open, k)
	}
	s.mu.Unlock()
	for _, k := range open {
		k.closeWith(CloseGoingAway, "server shutting down")
	}
}

// acquireSubscription takes one of the connection's subscription slots
// until ctx ends. Errors: RATE_LIMITED (with maxSubscriptions) when the
// connection holds the maximum.
func (s *Sockets) acquireSubscription(ctx context.Context) error {
	holder, _ := ctx.Value(socketKey{}).(*socketHolder)
	if holder == nil || holder.sock == nil {
		return nil // not over a socket (no other transport serves subscriptions)
	}
	k := holder.sock
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.subs >= s.cfg.MaxSubscriptions {
		return apperr.New(apperr.RateLimited, "this connection holds the maximum number of subscriptions").
			With("maxSubscriptions", s.cfg.MaxSubscriptions)
	}
	k.subs++
	context.AfterFunc(ctx, func() {
		k.mu.Lock()
		k.subs--
		k.mu.Unlock()
	})
	return nil
}
