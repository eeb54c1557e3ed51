package resolvers

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// Close codes of the graphql-transport-ws protocol (graphql-ws's
// PROTOCOL.md) that gqlgen's transport does not send itself: it closes
// with 1002 where the protocol names a 44xx code, accepts a second
// connection_init and reuses an active operation id. protocolConn
// enforces them in front of the transport.
const (
	// CloseBadRequest: a message of an unknown type or shape.
	CloseBadRequest = 4400
	// CloseInitTimeout: no connection_init within DANBAO_WS_INIT_TIMEOUT.
	CloseInitTimeout = 4408
	// CloseSubscriberExists: a subscribe reused the id of an active operation.
	CloseSubscriberExists = 4409
	// CloseTooManyInits: a second connection_init.
	CloseTooManyInits = 4429
)

// protocolConn wraps an accepted socket. For graphql-transport-ws it
// checks every client message before gqlgen's transport reads it and
// closes the socket with the protocol's code on a violation; for every
// subprotocol it closes a socket that sends no connection_init within the
// init timeout (4408). The first close code written wins.
type protocolConn struct {
	transport.WebsocketConn
	strict bool // graphql-transport-ws negotiated

	mu     sync.Mutex
	closed bool
	inited bool
	// The transport sees each operation under an id of its own
	// (client id + "#" + a counter), so that an id the client completed
	// and at once used again cannot be confused with the operation still
	// ending under it: gqlgen would send the old operation's complete for
	// the new one and forget the new one's cancel.
	active map[string]string // client id -> transport id, operations the client has not completed
	ops    map[string]string // transport id -> client id, until the transport ends it; live while active maps back to it
	n      uint64
	timer  *time.Timer
}

func newProtocolConn(c transport.WebsocketConn, initTimeout time.Duration) *protocolConn {
	p := &protocolConn{WebsocketConn: c, strict: c.Subprotocol() == "graphql-transport-ws",
		active: map[string]string{}, ops: map[string]string{}}
	if initTimeout > 0 {
		// Set under the lock: the timer may fire (and read it) before
		// AfterFunc has returned.
		p.mu.Lock()
		defer p.mu.Unlock()
		p.timer = time.AfterFunc(initTimeout, func() {
			p.mu.Lock()
			inited := p.inited
			p.mu.Unlock()
			if !inited {
				_ = p.WriteClose(CloseInitTimeout, "Connection initialisation timeout")
			}
		})
	}
	return p
}

// clientMessage is the envelope of a client message.
type clientMessage struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// NextReader returns the next client message that may reach the
// transport, answering pings sent before connection_init itself.
func (p *protocolConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := p.WebsocketConn.NextReader()
		if err != nil {
			return typ, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		// As a POST body's: a message of a million one-byte values would
		// decode into tens of megabytes (found in review).
		if JSONValues(data, MaxJSONValues) > MaxJSONValues {
			return p.fail(int(coderws.StatusMessageTooBig), "Message holds too many JSON values")
		}
		if !p.strict {
			p.initDone()
			return typ, bytes.NewReader(data), nil
		}
		var m clientMessage
		if typ != int(coderws.MessageText) || json.Unmarshal(data, &m) != nil {
			return p.fail(CloseBadRequest, "Invalid message received")
		}
		p.mu.Lock()
		inited := p.inited
		p.mu.Unlock()
		switch m.Type {
		case "connection_init":
			if inited {
				return p.fail(CloseTooManyInits, "Too many initialisation requests")
			}
			if len(m.Payload) > 0 && !bytes.Equal(m.Payload, []byte("null")) && m.Payload[0] != '{' {
				return p.fail(CloseBadRequest, "connection_init payload must be an object")
			}
			p.initDone()
		case "ping", "pong":
			if !inited { // the transport answers pings only after init
				if m.Type == "ping" {
					_ = p.WebsocketConn.WriteJSON(map[string]string{"type": "pong"})
				}
				continue
			}
		case "subscribe":
			if !inited {
				return p.fail(CloseUnauthorized, "Unauthorized")
			}
			if m.ID == nil || *m.ID == "" {
				return p.fail(CloseBadRequest, "subscribe without an id")
			}
			p.mu.Lock()
			_, dup := p.active[*m.ID]
			var tid string
			if !dup {
				p.n++
				tid = *m.ID + "#" + strconv.FormatUint(p.n, 10)
				p.active[*m.ID] = tid
				p.ops[tid] = *m.ID
			}
			p.mu.Unlock()
			if dup {
				return p.fail(CloseSubscriberExists, "Subscriber for "+clip(*m.ID, 80)+" already exists")
			}
			data = withID(m, tid)
		case "complete":
			if m.ID == nil || *m.ID == "" {
				return p.fail(CloseBadRequest, "complete without an id")
			}
			p.mu.Lock()
			tid, ok := p.active[*m.ID]
			if ok { // the id is the client's again; what the transport still sends for it is dropped
				delete(p.active, *m.ID)
			}
			p.mu.Unlock()
			if ok {
				data = withID(m, tid)
			}
		default:
			return p.fail(CloseBadRequest, "Invalid message type")
		}
		return typ, bytes.NewReader(data), nil
	}
}

// WriteJSON sends a server message under the client's id of its
// operation; a complete or error ends the operation. Messages of an
// operation the client completed, or that has ended, are not sent.
func (p *protocolConn) WriteJSON(v any) error {
	if !p.strict {
		return p.WebsocketConn.WriteJSON(v)
	}
	id, typ, set := messageID(v)
	if id == "" {
		return p.WebsocketConn.WriteJSON(v)
	}
	p.mu.Lock()
	client, known := p.ops[id]
	live := known && p.active[client] == id
	if known && (typ == "complete" || typ == "error") {
		delete(p.ops, id)
		if live {
			delete(p.active, client)
		}
	}
	p.mu.Unlock()
	if !live {
		// Ended (after an error the protocol sends nothing more), or
		// completed by the client: nothing more of it is sent.
		return nil
	}
	set(client)
	return p.WebsocketConn.WriteJSON(v)
}

// messageID reads the id and type of a message of gqlgen's transport (a
// pointer to a struct with string fields ID and Type) and returns a
// function that sets its id.
func messageID(v any) (id, typ string, set func(string)) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return "", "", nil
	}
	f, t := rv.Elem().FieldByName("ID"), rv.Elem().FieldByName("Type")
	if !f.IsValid() || f.Kind() != reflect.String || !f.CanSet() || !t.IsValid() || t.Kind() != reflect.String {
		return "", "", nil
	}
	return f.String(), t.String(), f.SetString
}

// withID is the client message m under the transport's id.
func withID(m clientMessage, id string) []byte {
	m.ID = &id
	b, _ := json.Marshal(m)
	return b
}

// WriteClose closes the socket with code; only the first close counts.
func (p *protocolConn) WriteClose(code int, reason string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.stopTimer()
	return p.WebsocketConn.WriteClose(code, reason)
}

// Close drops the connection and stops the init timer.
func (p *protocolConn) Close() error {
	p.stopTimer()
	return p.WebsocketConn.Close()
}

// stopTimer stops the init timer, if there is one.
func (p *protocolConn) stopTimer() {
	p.mu.Lock()
	t := p.timer
	p.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}

// fail closes the socket with code and ends the transport's read loop
// quietly.
func (p *protocolConn) fail(code int, reason string) (int, io.Reader, error) {
	_ = p.WriteClose(code, reason)
	return 0, nil, transport.ErrWebsocketClosed
}

func (p *protocolConn) initDone() {
	p.mu.Lock()
	p.inited = true
	p.mu.Unlock()
	p.stopTimer()
}

// SetReadLimit passes the transport's message size limit on.
func (p *protocolConn) SetReadLimit(limit int64) {
	if l, ok := p.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline passes the transport's pong deadline on.
func (p *protocolConn) SetReadDeadline(t time.Time) error {
	if d, ok := p.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
