package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WS is a graphql-transport-ws client connection to an Env.
type WS struct {
	Conn *websocket.Conn
}

// WSMessage is one protocol message.
type WSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// DialWS opens a socket at /graphql with the graphql-transport-ws
// subprotocol and the given request headers (nil for none), without
// initialising it.
func (e *Env) DialWS(ctx context.Context, header http.Header) (*WS, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(e.Server.URL, "http") + "/graphql"
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header,
	})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	return &WS{Conn: c}, resp, nil
}

// Subscriber connects with token in the connection_init payload and waits
// for the acknowledgement; it fails the test otherwise.
func (e *Env) Subscriber(t testing.TB, token string) *WS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, _, err := e.DialWS(ctx, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { w.Conn.CloseNow() })
	if err := w.Init(ctx, map[string]any{"Authorization": "Bearer " + token}); err != nil {
		t.Fatalf("init: %v", err)
	}
	return w
}

// Send writes one message.
func (w *WS) Send(ctx context.Context, m WSMessage) error {
	b, _ := json.Marshal(m)
	return w.Conn.Write(ctx, websocket.MessageText, b)
}

// Next reads the next message other than ping and pong (answering pings).
func (w *WS) Next(ctx context.Context) (WSMessage, error) {
	for {
		_, b, err := w.Conn.Read(ctx)
		if err != nil {
			return WSMessage{}, err
		}
		var m WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return WSMessage{}, err
		}
		switch m.Type {
		case "ping":
			if err := w.Send(ctx, WSMessage{Type: "pong"}); err != nil {
				return WSMessage{}, err
			}
		case "pong", "ka":
		default:
			return m, nil
		}
	}
}

// Init sends connection_init with payload and waits for connection_ack;
// a closed socket gives an error whose websocket.CloseStatus is the code.
func (w *WS) Init(ctx context.Context, payload map[string]any) error {
	p, _ := json.Marshal(payload)
	if err := w.Send(ctx, WSMessage{Type: "connection_init", Payload: p}); err != nil {
		return err
	}
	m, err := w.Next(ctx)
	if err != nil {
		return err
	}
	if m.Type != "connection_ack" {
		return fmt.Errorf("got %s: %s", m.Type, m.Payload)
	}
	return nil
}

// Subscribe starts the subscription id.
func (w *WS) Subscribe(ctx context.Context, id, query string, vars map[string]any) error {
	p, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return w.Send(ctx, WSMessage{ID: id, Type: "subscribe", Payload: p})
}

// NextData reads until a "next" message and decodes its data into v; an
// "error" or "complete" message, or a closed socket, is an error.
func (w *WS) NextData(ctx context.Context, v any) (string, error) {
	m, err := w.Next(ctx)
	if err != nil {
		return "", err
	}
	if m.Type != "next" {
		return m.ID, &WSError{Msg: m}
	}
	var r struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		return m.ID, err
	}
	if len(r.Errors) > 0 {
		return m.ID, &WSError{Msg: m}
	}
	return m.ID, json.Unmarshal(r.Data, v)
}

// WSError is a message that was not the data expected.
type WSError struct{ Msg WSMessage }

func (e *WSError) Error() string { return e.Msg.Type + ": " + string(e.Msg.Payload) }

// Code returns the extensions.code of the first error of an "error" or
// "next" message, or "".
func (e *WSError) Code() string {
	c, _ := e.first()["code"].(string)
	return c
}

// Field returns the extensions.field of the first error of an "error" or
// "next" message joined with ".", or "".
func (e *WSError) Field() string {
	v, _ := e.first()["field"].([]any)
	parts := make([]string, 0, len(v))
	for _, p := range v {
		parts = append(parts, fmt.Sprint(p))
	}
	return strings.Join(parts, ".")
}

// first returns the extensions of the message's first error, or nil.
func (e *WSError) first() map[string]any {
	var errs []struct{ Extensions map[string]any }
	if e.Msg.Type == "next" {
		var r struct {
			Errors []struct{ Extensions map[string]any }
		}
		_ = json.Unmarshal(e.Msg.Payload, &r)
		errs = r.Errors
	} else {
		_ = json.Unmarshal(e.Msg.Payload, &errs)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs[0].Extensions
}

// ErrorCode returns the extensions.code carried by err if it is a
// *WSError, or "".
func ErrorCode(err error) string {
	var we *WSError
	if errors.As(err, &we) {
		return we.Code()
	}
	return ""
}

// ErrorField returns the extensions.field (joined with ".") carried by err
// if it is a *WSError, or "".
func ErrorField(err error) string {
	var we *WSError
	if errors.As(err, &we) {
		return we.Field()
	}
	return ""
}
