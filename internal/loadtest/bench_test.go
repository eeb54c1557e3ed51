package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// The hot paths' Go benchmarks (`make bench`): one ledger posting, one
// payment authorization, one history page and the cost of a GraphQL
// request that does nothing, each on SQLite and (when
// DANBAO_TEST_DATABASE_URL is set) PostgreSQL.

// benchEnv is an instance with two funded users with passkeys, over HTTP.
type benchEnv struct {
	e           *testenv.Env
	g           *gqlClient
	buyer, sell *vuser
}

func forEachDB(b *testing.B, f func(b *testing.B, be *benchEnv)) {
	for _, d := range []testenv.Dialect{testenv.SQLite, testenv.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			e := testenv.New(b, d, testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.WithoutRiskBursts(), testenv.With("DANBAO_LOG_LEVEL", "warn"))
			g := &gqlClient{c: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, url: e.Server.URL + "/graphql"}
			ctx := context.Background()
			be := &benchEnv{e: e, g: g}
			stamp := time.Now().UnixNano() / 1e3 % 1e5 * 1000
			var err error
			if be.buyer, err = setupUser(ctx, g, e.Origin, stamp, "10000.00"); err != nil {
				b.Fatal(err)
			}
			if be.sell, err = setupUser(ctx, g, e.Origin, stamp+1, "10000.00"); err != nil {
				b.Fatal(err)
			}
			e.App.Bank.Drain()
			b.ResetTimer()
			f(b, be)
		})
	}
}

// BenchmarkLedgerPost: one transfer between two users' available
// balances: a database transaction with balanced postings, two balance
// updates, the hash chain and two events. Serial, then from 8 goroutines.
func BenchmarkLedgerPost(b *testing.B) {
	forEachDB(b, func(b *testing.B, be *benchEnv) {
		in := ledger.TransferInput{From: pulid.ID(be.buyer.id), To: pulid.ID(be.sell.id), Amount: 1, Currency: money.CNY}
		ctx := context.Background()
		b.Run("serial", func(b *testing.B) {
			for range b.N {
				if _, err := be.e.App.Ledger.Transfer(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel8", func(b *testing.B) {
			b.SetParallelism(4) // 4 goroutines per GOMAXPROCS: 8 on this 2-core machine
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := be.e.App.Ledger.Transfer(ctx, in); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// BenchmarkAuthorizePayment: authorizePayment over HTTP with a passkey
// assertion (createPayment and the assertion are outside the timer).
func BenchmarkAuthorizePayment(b *testing.B) {
	forEachDB(b, func(b *testing.B, be *benchEnv) {
		ctx := context.Background()
		for i := range b.N {
			b.StopTimer()
			var created struct {
				Payment              struct{ ID string }
				AuthorizationOptions json.RawMessage
			}
			key := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
			if err := be.g.do(ctx, "", be.buyer.token, `mutation($in: CreatePaymentInput!){ createPayment(input:$in) { authorizationOptions `+paymentPayload+` } }`,
				map[string]any{"in": map[string]any{"payeeId": be.sell.id, "amount": "0.01", "idempotencyKey": key}}, &created); err != nil {
				b.Fatal(err)
			}
			cred, err := be.buyer.auth.Assert(created.AuthorizationOptions, softauthn.AssertOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := be.g.do(ctx, "", be.buyer.token, `mutation($in: AuthorizePaymentInput!){ authorizePayment(input:$in) { `+paymentPayload+` } }`,
				map[string]any{"in": map[string]any{"paymentId": created.Payment.ID, "credential": json.RawMessage(cred), "idempotencyKey": "auth-" + key}}, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHistoryPage: me.transactions(first: 50) over HTTP, for a user
// with 300 entries.
func BenchmarkHistoryPage(b *testing.B) {
	forEachDB(b, func(b *testing.B, be *benchEnv) {
		ctx := context.Background()
		b.StopTimer()
		in := ledger.TransferInput{From: pulid.ID(be.buyer.id), To: pulid.ID(be.sell.id), Amount: 1, Currency: money.CNY}
		for range 300 {
			if _, err := be.e.App.Ledger.Transfer(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for range b.N {
			var p historyPage
			if err := be.g.do(ctx, "", be.buyer.token, HistoryQuery, nil, &p); err != nil || len(p.Transactions.Edges) != 50 {
				b.Fatal(err, len(p.Transactions.Edges))
			}
		}
	})
}

// BenchmarkGraphQLRequest: the cost of one request that reads nothing:
// { __typename } signed out, and { me { id } } signed in (token check and
// one user read).
func BenchmarkGraphQLRequest(b *testing.B) {
	forEachDB(b, func(b *testing.B, be *benchEnv) {
		ctx := context.Background()
		b.Run("typename", func(b *testing.B) {
			for range b.N {
				if err := be.g.do(ctx, "", "", `{ __typename }`, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("me", func(b *testing.B) {
			for range b.N {
				if err := be.g.do(ctx, "", be.buyer.token, `{ me { id } }`, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
