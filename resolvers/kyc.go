package resolvers

import (
	"context"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/kyc"
	"danbao/internal/limits"
	"danbao/internal/money"
	"danbao/internal/realname"
)

// submitRequest maps the GraphQL input to the service's request.
func submitRequest(in model.SubmitRealNameVerificationInput) kyc.Request {
	r := kyc.Request{LegalName: in.LegalName, IDType: in.IDType, IDNumber: in.IDNumber, Evidence: in.Evidence}
	if in.TargetLevel != nil {
		r.TargetLevel = *in.TargetLevel
	}
	return r
}

// reviewInput maps the GraphQL input to the service's review.
func reviewInput(in model.ReviewVerificationInput) realname.ReviewInput {
	r := realname.ReviewInput{VerificationID: in.VerificationID, Approve: in.Approve}
	if in.Level != nil {
		r.Level = *in.Level
	}
	if in.Reason != nil {
		r.Reason = *in.Reason
	}
	return r
}

// verificationPayload maps a verification result to its payload type.
func verificationPayload[P any](v *ent.Verification, err error, mk func(*ent.Verification, []*model.UserError) *P) (*P, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	return mk(v, ues), nil
}

func submitPayload(v *ent.Verification, ues []*model.UserError) *model.SubmitRealNameVerificationPayload {
	return &model.SubmitRealNameVerificationPayload{Verification: v, UserErrors: ues}
}

func reviewPayload(v *ent.Verification, ues []*model.UserError) *model.ReviewVerificationPayload {
	return &model.ReviewVerificationPayload{Verification: v, UserErrors: ues}
}

// limitsModel maps a limits summary to the GraphQL type, amounts as
// decimal strings.
func limitsModel(s *limits.Summary) *model.Limits {
	out := &model.Limits{Level: s.Level, Rights: s.Rights, BalancePayments: []*model.BalancePaymentLimit{}}
	if out.Rights == nil {
		out.Rights = []kyc.Right{}
	}
	for _, w := range s.BalancePayments {
		b := &model.BalancePaymentLimit{
			Name:      w.Name,
			Period:    w.Period,
			Limit:     money.FormatMinor(w.Limit, w.Currency),
			Used:      money.FormatMinor(w.Used, w.Currency),
			Remaining: money.FormatMinor(w.Remaining, w.Currency),
			Currency:  string(w.Currency),
		}
		if !s.ResetsAt.IsZero() {
			t := s.ResetsAt.UTC()
			b.ResetsAt = &t
		}
		out.BalancePayments = append(out.BalancePayments, b)
	}
	out.Daily = []*model.DailyPaymentLimit{}
	for i := range s.Daily {
		out.Daily = append(out.Daily, dailyLimitModel(&s.Daily[i], s.DayEnds))
	}
	out.PasswordFree = passwordFreeModel(&s.PasswordFree, s.DayEnds)
	return out
}

// dailyLimitPayload maps a setDailyLimit result, set at now, to its payload.
func (r *Resolver) dailyLimitPayload(w *limits.DailyWindow, err error, now time.Time) (*model.SetDailyLimitPayload, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	return &model.SetDailyLimitPayload{DailyLimit: dailyLimitModel(w, r.Limits.DayEnd(now)), UserErrors: ues}, nil
}

// dailyLimitModel maps a daily window to the GraphQL type (nil for nil);
// resets is when the day ends.
func dailyLimitModel(w *limits.DailyWindow, resets time.Time) *model.DailyPaymentLimit {
	if w == nil {
		return nil
	}
	return &model.DailyPaymentLimit{
		Name:      limits.DailyLimitName,
		Limit:     money.FormatMinor(w.Limit, w.Currency),
		Maximum:   money.FormatMinor(w.Max, w.Currency),
		Chosen:    w.Chosen,
		Used:      money.FormatMinor(w.Used, w.Currency),
		Remaining: money.FormatMinor(w.Remaining, w.Currency),
		Currency:  string(w.Currency),
		ResetsAt:  resets.UTC(),
	}
}

// userLimits loads the limits summary of a user the caller may see.
func (r *Resolver) userLimits(ctx context.Context, userID pulid.ID) (*model.Limits, error) {
	if err := ownerOrOperator(ctx, userID); err != nil {
		return nil, err
	}
	s, err := r.Limits.Summary(ctx, userID, time.Now())
	if err != nil {
		return nil, err
	}
	return limitsModel(s), nil
}
