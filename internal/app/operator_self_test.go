package app_test

import (
	"slices"
	"testing"

	"danbao/internal/testenv"
)

// operatorWallet gives op a wallet: verified, a card, 500.00 topped up
// and a passkey (an operator account may also pay).
func (e *escrowEnv) operatorWallet(t *testing.T, op *testenv.User) buyer {
	t.Helper()
	e.Verify(t, op)
	card := linkCard(t, e.Env, op, cardOK)
	if r := topUp(t, e.Env, op, card, "500.00", "fund-"+op.ID); r.code() != "" {
		t.Fatalf("operator's top-up: %s", r.code())
	}
	e.App.Bank.Drain()
	a := e.Authenticator()
	e.AddPasskey(t, op, a)
	return buyer{User: op, auth: a}
}

// TestOperatorCannotDecideOwnHeldPayment: an operator's own payment, held
// by risk (its seller frozen by another operator: FLAGGED_COUNTERPARTY),
// is decided by another operator, never by them (FORBIDDEN, nothing
// changes); the other operator's approval goes through.
func TestOperatorCannotDecideOwnHeldPayment(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		op, other := e.Operator(t), e.Operator(t)
		b := e.operatorWallet(t, op)
		seller := e.RegisterVerified(t)
		e.control(t, other, "freezeAccount", "frozen", seller, true)
		c := e.create(t, b, seller, "100.00", "op-pays")
		if r := e.authorize(t, b, c.Payment.ID, c.Options, "op-auth"); r.code() != "" || r.Payment.Status != "HELD" {
			t.Fatalf("the operator's payment: %+v, want HELD", r)
		}
		items := heldItems(t, e.Env, other)
		if len(items) != 1 {
			t.Fatalf("held items: %+v", items)
		}
		before := e.snap(t, b, seller)
		for _, m := range []string{"approveHeld", "rejectHeld"} {
			resp := e.Do(t, op.AccessToken, `mutation($in: DecideHeldInput!){ r: `+m+`(input:$in) { userErrors { code } } }`,
				map[string]any{"in": map[string]any{"id": items[0].ID, "idempotencyKey": "self-" + m}})
			if !slices.Equal(resp.Codes(), []string{"FORBIDDEN"}) {
				t.Fatalf("%s of one's own held payment: %v %s, want FORBIDDEN", m, resp.Codes(), resp.Data)
			}
		}
		if items = heldItems(t, e.Env, other); len(items) != 1 || items[0].Status != "HELD" || items[0].Payment.Status != "HELD" {
			t.Fatalf("after the refusals: %+v, want the item and payment HELD", items)
		}
		want(t, "nothing moved", e.snap(t, b, seller), before)
		if got := decideHeld(t, e.Env, other, "approveHeld", items[0].ID, "other-approves"); len(got.UserErrors) > 0 || got.Payment.Status != "PAID" {
			t.Fatalf("another operator's approval: %+v", got)
		}
		verifyOK(t, e.Env)
	})
}

// TestOperatorCannotChangeOwnControls: a frozen operator cannot lift the
// freeze on their own wallet, nor lift a restriction, nor set one
// (FORBIDDEN on userId); the freeze stays and their payments are still
// refused ACCOUNT_FROZEN.
func TestOperatorCannotChangeOwnControls(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		op, other := e.Operator(t), e.Operator(t)
		b := e.operatorWallet(t, op)
		seller := e.RegisterVerified(t)
		e.control(t, other, "freezeAccount", "frozen", op, true)
		for _, c := range []struct{ mutation, input, flag string }{
			{"freezeAccount", "FreezeAccountInput", "frozen"},
			{"restrictCollection", "RestrictCollectionInput", "restricted"},
		} {
			for _, on := range []bool{false, true} {
				resp := e.Do(t, op.AccessToken, `mutation($in: `+c.input+`!){ r: `+c.mutation+`(input:$in) { userErrors { code } } }`,
					map[string]any{"in": map[string]any{"userId": op.ID, c.flag: on, "reason": "mistake"}})
				if !slices.Equal(resp.Codes(), []string{"FORBIDDEN"}) {
					t.Fatalf("%s(%v) of one's own wallet: %v %s, want FORBIDDEN", c.mutation, on, resp.Codes(), resp.Data)
				}
			}
		}
		resp := e.Do(t, op.AccessToken, `mutation($in: RestrictLowTrustInput!){ r: restrictLowTrust(input:$in) { userErrors { code } } }`,
			map[string]any{"in": map[string]any{"userId": op.ID, "reason": "mistake"}})
		if !slices.Equal(resp.Codes(), []string{"FORBIDDEN"}) {
			t.Fatalf("restrictLowTrust of one's own wallet: %v %s, want FORBIDDEN", resp.Codes(), resp.Data)
		}
		want(t, "the frozen operator pays", e.create(t, b, seller, "100.00", "frozen-op").code(), "ACCOUNT_FROZEN")
		e.control(t, other, "freezeAccount", "frozen", op, false) // another operator may
		if c := e.create(t, b, seller, "100.00", "unfrozen-op"); c.code() != "" {
			t.Fatalf("after another operator lifted the freeze: %s", c.code())
		}
	})
}

// TestSellerSeesNoBuyerRiskDetail: the AUTHORIZE audit row's detail holds
// risk's decision and reasons and the passkey evidence; the buyer and
// operators read them in Payment.events, the seller reads the row without
// them (docs/design.md, Risk: never shown to the seller).
func TestSellerSeesNoBuyerRiskDetail(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		id := e.pay(t, b, seller, "100.00")
		detail := func(u *testenv.User) map[string]any {
			t.Helper()
			var out struct {
				Node struct {
					Events struct {
						Edges []struct {
							Node struct {
								Type   string
								Detail map[string]any
							}
						}
					}
				}
			}
			e.Do(t, u.AccessToken, `query($id: ID!){ node(id:$id) { ... on Payment { events(first: 50) { edges { node { type detail } } } } } }`,
				map[string]any{"id": id}).Decode(t, &out)
			for _, ev := range out.Node.Events.Edges {
				if ev.Node.Type == "AUTHORIZE" {
					return ev.Node.Detail
				}
			}
			t.Fatalf("no AUTHORIZE event for %s: %+v", u.ID, out)
			return nil
		}
		for _, u := range []*testenv.User{b.User, op} {
			got := detail(u)
			if got["risk"] == nil || got["evidence"] == nil {
				t.Fatalf("the AUTHORIZE detail for %s: %v, want risk and evidence", u.ID, got)
			}
		}
		if got := detail(seller); got["risk"] != nil || got["evidence"] != nil {
			t.Fatalf("the seller reads the buyer's %v", got)
		}
	})
}

// TestCounterpartyPrivateFields: the seller reading a payment sees its
// buyer's id and display name, never their phone, role or timestamps
// (FORBIDDEN, as every user-private field of another user), and the
// buyer likewise the seller's; each reads their own, and an operator
// reads both.
func TestCounterpartyPrivateFields(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		c := e.create(t, b, seller, "10.00", "private-fields")
		if c.code() != "" {
			t.Fatal(c)
		}
		read := func(u *testenv.User, party, field string) (*testenv.Response, map[string]any) {
			t.Helper()
			resp := e.Do(t, u.AccessToken, `query($id: ID!){ payment(id:$id) { `+party+` { id displayName `+field+` } } }`,
				map[string]any{"id": c.Payment.ID})
			var out struct{ Payment map[string]map[string]any }
			if len(resp.Errors) == 0 {
				resp.Decode(t, &out)
			}
			return resp, out.Payment[party]
		}
		for _, field := range []string{"phone", "role", "createdAt", "updatedAt"} {
			for _, x := range []struct {
				who   *testenv.User
				party string
			}{{seller, "payer"}, {b.User, "payee"}} {
				resp, _ := read(x.who, x.party, field)
				if !slices.Equal(resp.Codes(), []string{"FORBIDDEN"}) {
					t.Fatalf("%s reading the %s's %s: %v %s, want FORBIDDEN", x.who.ID, x.party, field, resp.Codes(), resp.Data)
				}
			}
			for _, x := range []struct {
				who   *testenv.User
				party string
				owner *testenv.User
			}{{b.User, "payer", b.User}, {seller, "payee", seller}, {op, "payer", b.User}, {op, "payee", seller}} {
				resp, got := read(x.who, x.party, field)
				if len(resp.Errors) > 0 || got[field] == nil || got["id"] != x.owner.ID {
					t.Fatalf("%s reading the %s's %s: %v %s", x.who.ID, x.party, field, resp.Codes(), resp.Data)
				}
			}
		}
		// What anyone in the payment may read of the other.
		if resp, got := read(seller, "payer", "trustedMerchant"); len(resp.Errors) > 0 || got["id"] != b.User.ID || got["displayName"] == nil || got["displayName"] == "" || got["trustedMerchant"] == nil {
			t.Fatalf("the seller reading the buyer's public fields: %v %s", resp.Codes(), resp.Data)
		}
	})
}

// TestSignInReadsOwnUserFields: the user a sign-in mutation returns may
// read their own private fields in its payload, though the request
// carries no token of theirs (found in review: after those fields were
// guarded, README's first register asking for user { phone } lost its
// user to UNAUTHENTICATED).
func TestSignInReadsOwnUserFields(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		phone := testenv.NewPhone()
		type payload struct {
			User *struct {
				ID, Phone, Role string
				CreatedAt       string
			}
			UserErrors []userError
		}
		var reg struct{ Register payload }
		resp := e.Do(t, "", `mutation($in: RegisterInput!){ register(input:$in) { user { id phone role createdAt } userErrors { code } } }`,
			map[string]any{"in": map[string]any{"phone": phone, "password": "correct horse battery", "displayName": "Li Lei"}})
		if len(resp.Errors) > 0 {
			t.Fatalf("register reading its user: %v", resp.Codes())
		}
		resp.Decode(t, &reg)
		if u := reg.Register.User; u == nil || u.Phone != phone || u.Role != "USER" || u.CreatedAt == "" {
			t.Fatalf("register: %+v", reg.Register)
		}
		var login struct{ Login payload }
		resp = e.Do(t, "", `mutation($in: LoginInput!){ login(input:$in) { user { id phone role } userErrors { code } } }`,
			map[string]any{"in": map[string]any{"phone": phone, "password": "correct horse battery"}})
		if len(resp.Errors) > 0 {
			t.Fatalf("login reading its user: %v", resp.Codes())
		}
		resp.Decode(t, &login)
		if u := login.Login.User; u == nil || u.Phone != phone || u.ID != reg.Register.User.ID {
			t.Fatalf("login: %+v", login.Login)
		}
		// A wrong password signs nobody in: nothing to read.
		resp = e.Do(t, "", `mutation($in: LoginInput!){ login(input:$in) { user { phone } userErrors { code } } }`,
			map[string]any{"in": map[string]any{"phone": phone, "password": "wrong horse battery"}})
		resp.Decode(t, &login)
		if len(resp.Errors) > 0 || login.Login.User != nil || len(login.Login.UserErrors) != 1 || login.Login.UserErrors[0].Code != "INVALID_CREDENTIALS" {
			t.Fatalf("a refused login: %v %+v", resp.Codes(), login.Login)
		}
	})
}
