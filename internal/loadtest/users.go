package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"danbao/internal/kyc"
	"danbao/internal/softauthn"
)

// loadPassword is every load user's password.
const loadPassword = "load test password"

// vuser is one prepared user: signed in, verified, funded, with a passkey
// held by its own software authenticator. A buyer's passkey is used by one
// client at a time (its signature counter must only grow).
type vuser struct {
	token, id, card string
	auth            *softauthn.Authenticator
}

// setupUser registers user n, has the sandbox verify their real name,
// links a card, asks for a top-up of fund (settled later, see waitFunded)
// and registers a passkey.
func setupUser(ctx context.Context, g *gqlClient, origin string, n int64, fund string) (*vuser, error) {
	u := &vuser{auth: softauthn.New()}
	u.auth.Origin = origin
	var reg struct {
		AccessToken string
		User        struct{ ID string }
	}
	phone := fmt.Sprintf("+86137%08d", n%1e8)
	if err := g.do(ctx, "setup/register", "", `mutation($p:String!){ register(input:{phone:$p, password:"`+loadPassword+`", displayName:"Load"}) { accessToken user { id } userErrors { code message } } }`,
		map[string]any{"p": phone}, &reg); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	u.token, u.id = reg.AccessToken, reg.User.ID
	first17 := fmt.Sprintf("110105%s%03d", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n/1000%20000)).Format("20060102"), n%1000)
	d, err := kyc.CheckDigit(first17)
	if err != nil {
		return nil, err
	}
	if err := g.do(ctx, "setup/verify", u.token, `mutation($id:String!){ submitRealNameVerification(input:{legalName:"Load Tester", idType: RESIDENT_ID, idNumber:$id}) { userErrors { code message } } }`,
		map[string]any{"id": first17 + string(d)}, nil); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	var card struct{ BankCard struct{ ID string } }
	if err := g.do(ctx, "setup/linkCard", u.token, `mutation{ linkBankCard(input:{cardNumber:"4242424242424242", holderName:"Load Tester"}) { bankCard { id } userErrors { code message } } }`, nil, &card); err != nil {
		return nil, fmt.Errorf("link card: %w", err)
	}
	u.card = card.BankCard.ID
	if fund != "" {
		if err := g.do(ctx, "setup/topUp", u.token, `mutation($c:ID!,$a:Decimal!,$k:String!){ topUp(input:{bankCardId:$c, amount:$a, idempotencyKey:$k}) { topUp { id } userErrors { code message } } }`,
			map[string]any{"c": u.card, "a": fund, "k": "load-fund-" + u.id}, nil); err != nil {
			return nil, fmt.Errorf("top-up: %w", err)
		}
	}
	var begin struct{ Options json.RawMessage }
	if err := g.do(ctx, "setup/passkey", u.token, `mutation { beginPasskeyRegistration { options userErrors { code message } } }`, nil, &begin); err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	cred, _, err := u.auth.Register(begin.Options, softauthn.RegisterOptions{})
	if err != nil {
		return nil, fmt.Errorf("softauthn: %w", err)
	}
	if err := g.do(ctx, "setup/passkey", u.token, `mutation($in: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $in) { passkey { id } userErrors { code message } } }`,
		map[string]any{"in": map[string]any{"credential": json.RawMessage(cred), "nickname": "load"}}, nil); err != nil {
		return nil, fmt.Errorf("finish passkey registration: %w", err)
	}
	return u, nil
}

// waitFunded waits until u's available balance is want (its setup top-up
// settled), or the deadline passes.
func waitFunded(ctx context.Context, g *gqlClient, u *vuser, want string, deadline time.Time) error {
	for {
		var me struct{ Balances []struct{ Available string } }
		if err := g.do(ctx, "", u.token, `{ me { balances { available } } }`, nil, &me); err != nil {
			return err
		}
		if len(me.Balances) > 0 && me.Balances[0].Available == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("user %s: top-up of %s not settled in time (balances %+v)", u.id, want, me.Balances)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
