package resolvers

import (
	"context"
	"time"

	"danbao/auth"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/limits"
	"danbao/internal/money"
	"danbao/internal/risk"
)

// riskModel maps a recorded decision (empty before authorization) to the
// GraphQL type, for the owner of the outflow and operators only.
func riskModel(ctx context.Context, owner pulid.ID, decision string, reasons []string) *model.RiskAssessment {
	who, ok := auth.FromContext(ctx)
	if decision == "" || !ok || (who.UserID != owner && !who.Operator()) {
		return nil
	}
	if reasons == nil {
		reasons = []string{}
	}
	return &model.RiskAssessment{Decision: model.RiskDecision(decision), Reasons: reasons}
}

// decideHeld runs an operator's decision and builds its payload.
func (r *Resolver) decideHeld(ctx context.Context, approve bool, in model.DecideHeldInput) (*model.DecideHeldPayload, error) {
	who, err := auth.RequireOperator(ctx)
	if err != nil {
		return nil, err
	}
	note := ""
	if in.Note != nil {
		note = *in.Note
	}
	d, replay, err := r.Risk.Decide(ctx, who.UserID, approve, risk.DecideInput{HoldID: in.ID, Note: note, IdempotencyKey: in.IdempotencyKey})
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	markReplay(ctx, replay)
	out := &model.DecideHeldPayload{UserErrors: ues}
	if d != nil {
		out.HeldItem, out.Payment, out.Withdrawal = d.Hold, d.Payment, d.Withdrawal
	}
	return out, nil
}

// passwordFreeModel maps the allowance to the GraphQL type (nil for nil);
// resets is when the day ends.
func passwordFreeModel(p *limits.PasswordFree, resets time.Time) *model.PasswordFreeLimit {
	if p == nil {
		return nil
	}
	c := limits.PasswordFreeCurrency
	f := func(minor int64) model.Decimal { return model.Decimal(money.FormatMinor(minor, c)) }
	return &model.PasswordFreeLimit{Enabled: p.Enabled, PerPaymentLimit: f(p.PerPayment), DailyLimit: f(p.Cap()),
		Maximum: f(limits.PasswordFreeMaxDaily), Used: f(p.Used), Remaining: f(p.Remaining()),
		Currency: string(c), ResetsAt: resets.UTC()}
}
