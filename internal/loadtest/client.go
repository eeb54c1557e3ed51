package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// opError is a failed operation with the stable code it failed with: a
// userErrors code, a top-level error's extensions.code, HTTP_<status> or
// TRANSPORT.
type opError struct {
	Code, Message string
}

func (e *opError) Error() string { return e.Code + ": " + e.Message }

// codeOf returns the code of err ("" for nil).
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if oe, ok := err.(*opError); ok {
		return oe.Code
	}
	return "CLIENT"
}

type gqlClient struct {
	c   *http.Client
	url string
	rec *recorder
}

type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	} `json:"errors"`
}

// do runs one GraphQL operation as token, records it under op, and fails
// on top-level errors and on userErrors. out receives the first field of
// data.
func (g *gqlClient) do(ctx context.Context, op, token, query string, vars map[string]any, out any) error {
	took, err := g.post(ctx, token, query, vars, out)
	if g.rec != nil && op != "" {
		g.rec.add(op, took, err)
	}
	return err
}

// post sends one request and decodes its response into out. The time it
// returns is the request's latency as seen on the wire: from sending to
// the last byte of the response, the tool's own encoding and decoding
// left out (they would count this process's CPU as the server's).
func (g *gqlClient) post(ctx context.Context, token, query string, vars map[string]any, out any) (time.Duration, error) {
	took, raw, status, err := g.roundTrip(ctx, token, query, vars)
	if err != nil {
		return took, err
	}
	return took, decodeResponse(raw, status, out)
}

func (g *gqlClient) roundTrip(ctx context.Context, token, query string, vars map[string]any) (time.Duration, []byte, int, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := g.c.Do(req)
	if err != nil {
		return time.Since(start), nil, 0, &opError{Code: "TRANSPORT", Message: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		return took, nil, 0, &opError{Code: "TRANSPORT", Message: err.Error()}
	}
	return took, raw, resp.StatusCode, nil
}

// decodeResponse reads a GraphQL response: its first top-level error, or
// the first userError of a payload, as an *opError; else the first data
// field into out.
func decodeResponse(raw []byte, status int, out any) error {
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return &opError{Code: fmt.Sprintf("HTTP_%d", status), Message: string(raw)}
	}
	if len(r.Errors) > 0 {
		code := r.Errors[0].Extensions.Code
		if code == "" {
			code = fmt.Sprintf("HTTP_%d", status)
		}
		return &opError{Code: code, Message: r.Errors[0].Message}
	}
	for _, v := range r.Data {
		var p struct {
			UserErrors []struct{ Code, Message string }
		}
		if json.Unmarshal(v, &p) == nil && len(p.UserErrors) > 0 {
			return &opError{Code: p.UserErrors[0].Code, Message: p.UserErrors[0].Message}
		}
		if out != nil {
			return json.Unmarshal(v, out)
		}
	}
	return nil
}
