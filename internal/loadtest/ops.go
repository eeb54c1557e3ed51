package loadtest

import (
	"context"
	"encoding/json"
	"fmt"

	"danbao/internal/softauthn"
)

// worker is one client's state: it runs operations one at a time.
type worker struct {
	g       *gqlClient
	amount  string
	cursors map[string]string // per user: the end cursor of the last first page
}

func (w *worker) run(ctx context.Context, op string, buyer, seller, hot *vuser, key string) {
	switch op {
	case OpEscrow:
		w.escrow(ctx, "escrow/", buyer, seller, key, true)
	case OpHotSeller:
		w.escrow(ctx, "hotseller/", buyer, hot, key, true)
	case OpAuthorize:
		w.escrow(ctx, "authorize/", buyer, seller, key, false)
	case OpTopUp:
		_ = w.g.do(ctx, "topup", buyer.token, `mutation($c:ID!,$a:Decimal!,$k:String!){ topUp(input:{bankCardId:$c, amount:$a, idempotencyKey:$k}) { topUp { id } userErrors { code message } } }`,
			map[string]any{"c": buyer.card, "a": "1.00", "k": "load-topup-" + key}, nil)
	case OpHistory:
		w.history(ctx, buyer)
	}
}

const paymentPayload = `payment { id status } userErrors { code message }`

// escrow creates a payment from buyer to seller and authorizes it with the
// buyer's passkey; when full, the seller ships and the buyer confirms.
// Each step is recorded as prefix+step; a failed step ends the flow.
func (w *worker) escrow(ctx context.Context, prefix string, buyer, seller *vuser, key string, full bool) {
	var created struct {
		Payment              struct{ ID string }
		AuthorizationOptions json.RawMessage
	}
	if err := w.g.do(ctx, prefix+"create", buyer.token, `mutation($in: CreatePaymentInput!){ createPayment(input:$in) { authorizationOptions `+paymentPayload+` } }`,
		map[string]any{"in": map[string]any{"payeeId": seller.id, "amount": w.amount, "description": "load", "idempotencyKey": "load-create-" + key}}, &created); err != nil {
		return
	}
	cred, err := buyer.auth.Assert(created.AuthorizationOptions, softauthn.AssertOptions{})
	if err != nil {
		w.g.rec.add(prefix+"authorize", 0, &opError{Code: "SOFTAUTHN", Message: err.Error()})
		return
	}
	id := created.Payment.ID
	if err := w.g.do(ctx, prefix+"authorize", buyer.token, `mutation($in: AuthorizePaymentInput!){ authorizePayment(input:$in) { `+paymentPayload+` } }`,
		map[string]any{"in": map[string]any{"paymentId": id, "credential": json.RawMessage(cred), "idempotencyKey": "load-auth-" + key}}, nil); err != nil || !full {
		return
	}
	if err := w.g.do(ctx, prefix+"ship", seller.token, `mutation($in: MarkShippedInput!){ markShipped(input:$in) { `+paymentPayload+` } }`,
		map[string]any{"in": map[string]any{"paymentId": id, "carrier": "SF Express", "trackingNumber": "SF" + key}}, nil); err != nil {
		return
	}
	_ = w.g.do(ctx, prefix+"confirm", buyer.token, `mutation($in: PaymentIdInput!){ confirmReceipt(input:$in) { `+paymentPayload+` } }`,
		map[string]any{"in": map[string]any{"paymentId": id}}, nil)
}

// HistoryQuery is the history page the tool reads: 50 entries, newest
// first, after a cursor when given, with a filter when given.
const HistoryQuery = `query($after: Cursor, $filter: TransactionFilter){ me { transactions(first: 50, after: $after, filter: $filter) {
	edges { cursor node { id type direction amount balanceAfter createdAt } } pageInfo { endCursor hasNextPage } } } }`

type historyPage struct {
	Transactions struct {
		Edges []struct {
			Cursor string
			Node   struct{ ID string }
		}
		PageInfo struct {
			EndCursor   *string
			HasNextPage bool
		}
	}
}

// history reads the buyer's first page, and every other time the page
// after it.
func (w *worker) history(ctx context.Context, u *vuser) {
	if c, ok := w.cursors[u.id]; ok && c != "" {
		delete(w.cursors, u.id)
		_ = w.g.do(ctx, "history/next", u.token, HistoryQuery, map[string]any{"after": c}, nil)
		return
	}
	var p historyPage
	if err := w.g.do(ctx, "history/first", u.token, HistoryQuery, nil, &p); err == nil && p.Transactions.PageInfo.EndCursor != nil {
		w.cursors[u.id] = *p.Transactions.PageInfo.EndCursor
	}
}

// ReadRSS returns the VmHWM (peak) and VmRSS of process pid in bytes, from
// /proc (zero where unreadable).
func ReadRSS(pid int) (peak, now int64) {
	raw, err := readFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	return statusKB(raw, "VmHWM:") * 1024, statusKB(raw, "VmRSS:") * 1024
}
