package schema

import (
	"danbao/ent/schema/gqldoc"
	"danbao/ent/schema/pulid"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Payment is one escrowed payment (担保交易): the buyer (payer) pays into
// escrow, the seller (payee) ships, the buyer confirms receipt and the
// money is released to the seller less the fee. Its status changes only by
// compare-and-set (package escrow); every change writes a PaymentEvent.
type Payment struct{ ent.Schema }

// Mixin of the Payment.
func (Payment) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPayment}, TimeMixin{}}
}

// Fields of the Payment.
func (Payment) Fields() []ent.Field {
	skip := entgql.Skip()
	optTime := func(name, comment string) ent.Field {
		return field.Time(name).Optional().Nillable().Annotations(skip).Comment(comment)
	}
	return []ent.Field{
		field.String("payer_id").GoType(pulid.ID("")).Immutable().Annotations(skip).Comment("the buyer"),
		field.String("payee_id").GoType(pulid.ID("")).Immutable().Annotations(skip).Comment("the seller"),
		field.String("partner_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip).
			Comment("the partner app that created the payment, if any"),
		field.Int64("amount").Positive().Immutable().Annotations(skip).Comment("minor units"),
		field.String("currency").MinLen(3).MaxLen(3).Immutable().Comment("ISO 4217 code of amount, fee and refunds, e.g. CNY"),
		field.Int64("fee").Default(0).NonNegative().Annotations(skip).Comment("taken from the seller at release, minor units"),
		field.Int64("refunded_amount").Default(0).NonNegative().Annotations(skip).Comment("returned to the buyer so far, minor units"),
		field.Int64("compensated_amount").Default(0).NonNegative().Annotations(skip).
			Comment("paid to the buyer from the protection fund after a fraud claim, minor units"),
		field.Enum("status").
			Values("CREATED", "PAID", "SHIPPED", "COMPLETED", "CLOSED", "REFUND_REQUESTED", "REFUNDED", "DISPUTED", "HELD").
			Default("CREATED").Annotations(entgql.Type("PaymentStatus"), gqldoc.Enum(
			"Where a payment is in the escrow state machine.",
			map[string]string{
				"CREATED":          "Created by the buyer and waiting for the buyer's passkey authorization; no money has moved. Closes at authorizeBy.",
				"PAID":             "Authorized: the amount is held in escrow, waiting for the seller to ship by shipBy.",
				"SHIPPED":          "The seller has shipped; receipt is confirmed automatically at autoConfirmAt unless the buyer confirms, asks for a refund or disputes first.",
				"COMPLETED":        "Receipt confirmed: the money has been released to the seller less the fee. The buyer may still claim fraud until protectionUntil.",
				"CLOSED":           "Ended before any money moved: cancelled by the buyer or not authorized in time.",
				"REFUND_REQUESTED": "The buyer asked for money back; the auto-confirm countdown is paused until the seller answers or refundAnswerBy passes.",
				"REFUNDED":         "Ended with everything escrow held returned to the buyer.",
				"DISPUTED":         "The buyer asked an operator to decide (or claimed fraud after completion); waiting for resolveDispute.",
				"HELD":             "Authorized, but held for review by risk: the amount is already in escrow and the payment waits for an operator (approveHeld: PAID; rejectHeld: REFUNDED, the money back to the buyer). No deadline runs while held.",
			})).
			Comment("where the payment is in the escrow state machine"),
		field.String("resume_status").Optional().MaxLen(20).Annotations(skip).
			Comment("while REFUND_REQUESTED or DISPUTED: the status the payment returns to (PAID, SHIPPED or COMPLETED)"),
		field.String("description").Optional().MaxRuneLen(200).Comment("what is paid for, as the buyer sees it (at most 200 characters)"),
		field.String("merchant_order_ref").Optional().MaxRuneLen(64).Comment("the seller's own order reference (at most 64 characters)"),
		field.String("carrier").Optional().MaxRuneLen(64).Annotations(skip),
		field.String("tracking_number").Optional().MaxRuneLen(64).Annotations(skip),
		optTime("authorize_by", "CREATED: closes unless authorized by then"),
		optTime("ship_by", "PAID: refunded unless shipped by then"),
		optTime("auto_confirm_at", "SHIPPED: completes by itself then (null while paused)"),
		field.Int64("auto_confirm_remaining").Optional().Nillable().Annotations(skip).
			Comment("microseconds of the auto-confirm countdown left while it is paused"),
		field.Int("extension_count").Default(0).NonNegative().Annotations(skip),
		optTime("refund_answer_by", "REFUND_REQUESTED: the seller's silence counts as agreement after it"),
		optTime("protection_until", "COMPLETED: a fraud claim may be opened until then"),
		field.Int64("refund_request_amount").Optional().Nillable().Annotations(skip).Comment("the open refund request, minor units"),
		field.String("refund_reason").Optional().MaxRuneLen(500).Annotations(skip),
		field.String("dispute_reason").Optional().MaxRuneLen(500).Annotations(skip),
		field.Bool("fraud_claim").Default(false).Annotations(skip).Comment("the open dispute is a fraud claim after completion"),
		field.JSON("authorization_evidence", map[string]any{}).Optional().Annotations(skip).
			Comment("the verified passkey assertion that authorized the payment"),
		field.String("authorization_transaction_id").GoType(pulid.ID("")).Optional().Annotations(skip).
			Comment("the ledger transaction that moved the money into escrow"),
		field.String("release_transaction_id").GoType(pulid.ID("")).Optional().Annotations(skip).
			Comment("the ledger transaction that released the money to the seller"),
		field.String("risk_decision").Optional().MaxLen(16).Annotations(skip).
			Comment("risk's decision at authorization: ALLOW, STEP_UP or HOLD (empty before authorization)"),
		field.Strings("risk_reasons").Optional().Annotations(skip).
			Comment("the stable reason codes behind risk_decision"),
		optTime("paid_at", ""),
		optTime("shipped_at", ""),
		optTime("completed_at", ""),
		optTime("closed_at", "when it ended CLOSED or REFUNDED"),
	}
}

// Indexes of the Payment.
func (Payment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("payer_id", "created_at"),
		// Risk's facts: a payer's authorized payments by time (internal/risk).
		index.Fields("payer_id", "paid_at"),
		index.Fields("payee_id", "created_at"),
		// The deadlines' sweeps (escrow.RunDue): only payments whose
		// deadline is set, that is open ones, so that a payment that moves
		// on writes into none of them once its deadlines are cleared, and
		// the four stay as small as what is open however many have closed.
		// A sweep's "deadline <= now" implies the predicate on both engines.
		deadlineIndex("authorize_by"),
		deadlineIndex("ship_by"),
		deadlineIndex("auto_confirm_at"),
		deadlineIndex("refund_answer_by"),
	}
}

// deadlineIndex indexes the payments whose deadline field is set, by
// status and deadline.
func deadlineIndex(field string) ent.Index {
	return index.Fields("status", field).Annotations(entsql.IndexWhere(field + " IS NOT NULL"))
}

// Annotations of the Payment.
func (Payment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(),
		gqldoc.Type("An escrowed payment (担保交易) from a buyer (payer) to a seller (payee): the buyer pays into escrow with a passkey, the seller ships, the buyer confirms receipt (or the deadline does) and the money is released to the seller less the fee. Amounts are Decimal strings in major units of the payment's currency. Visible to its buyer, its seller and operators only.")}
}

// PaymentEvent is one entry of a payment's audit trail: who did what
// (actor and role), when, from which status to which, with what evidence
// or note. Append-only.
type PaymentEvent struct{ ent.Schema }

// Mixin of the PaymentEvent.
func (PaymentEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixPaymentEvent}}
}

// Fields of the PaymentEvent.
func (PaymentEvent) Fields() []ent.Field {
	skip := entgql.Skip()
	return []ent.Field{
		field.String("payment_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.String("actor_id").GoType(pulid.ID("")).Optional().Immutable().Annotations(skip).
			Comment("the user who acted; empty for the scheduler"),
		field.Enum("actor_role").Values("PAYER", "PAYEE", "OPERATOR", "SYSTEM").Immutable().
			Annotations(entgql.Type("PaymentActorRole"), gqldoc.Enum(
				"In which capacity the actor of a payment event acted.",
				map[string]string{
					"PAYER":    "The buyer.",
					"PAYEE":    "The seller.",
					"OPERATOR": "An operator (e.g. deciding a dispute).",
					"SYSTEM":   "The deadline scheduler (a deadline passed); the event has no actor.",
				})).Comment("in what capacity the actor acted: PAYER, PAYEE, OPERATOR, or SYSTEM for a deadline"),
		field.String("event").NotEmpty().MaxLen(40).Immutable().Annotations(skip).Comment("e.g. AUTHORIZE, SHIP, CONFIRM"),
		field.String("from_status").MaxLen(20).Immutable().Annotations(skip),
		field.String("to_status").MaxLen(20).Immutable().Annotations(skip),
		field.Int64("amount").Optional().Immutable().Annotations(skip).Comment("money the event moved or asked for, minor units"),
		field.String("ledger_transaction_id").GoType(pulid.ID("")).Optional().Immutable().Annotations(skip),
		field.JSON("detail", map[string]any{}).Optional().Immutable().Annotations(skip).
			Comment("evidence, note, carrier, failure reason"),
		field.Time("created_at").Default(now).Immutable().Annotations(entgql.OrderField("CREATED_AT")).Comment("when it happened (UTC)"),
	}
}

// Indexes of the PaymentEvent.
func (PaymentEvent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("payment_id", "created_at")}
}

// Annotations of the PaymentEvent.
func (PaymentEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(),
		// The audit trail is always oldest first (escrow.Service.Events):
		// no client-chosen order.
		entgql.Skip(entgql.SkipOrderField),
		gqldoc.Type("One entry of a payment's audit trail, oldest first: what happened, when, who acted in which role, the status before and after, and the money moved or asked for (a Decimal string in major units of the payment's currency). Append-only; visible to the payment's buyer, its seller and operators only.")}
}

// Hooks of the PaymentEvent.
func (PaymentEvent) Hooks() []ent.Hook { return []ent.Hook{appendOnly} }

// SellerVolume counts what a seller has received through released payments
// in one currency and calendar month, for the fee's free monthly volume.
// Package escrow raises it in the release transaction and reads back the
// new total under the row's lock, so concurrent releases share the free
// volume exactly once.
type SellerVolume struct{ ent.Schema }

// Mixin of the SellerVolume.
func (SellerVolume) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixSellerVolume}}
}

// Fields of the SellerVolume.
func (SellerVolume) Fields() []ent.Field {
	return []ent.Field{
		field.String("seller_id").GoType(pulid.ID("")).Immutable(),
		field.String("currency").MaxLen(3).Immutable(),
		field.String("month").MaxLen(7).Immutable().Comment("YYYY-MM in China Standard Time"),
		field.Int64("received_minor").Default(0).NonNegative(),
	}
}

// Indexes of the SellerVolume.
func (SellerVolume) Indexes() []ent.Index {
	return []ent.Index{index.Fields("seller_id", "currency", "month").Unique()}
}

// Annotations of the SellerVolume.
func (SellerVolume) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}

// AccountControl is what an operator has switched off on a wallet: frozen
// (no paying, no withdrawing) and/or collection restricted (no receiving),
// each with its reason. Every change also writes an event row.
type AccountControl struct{ ent.Schema }

// Mixin of the AccountControl.
func (AccountControl) Mixin() []ent.Mixin {
	return []ent.Mixin{IDMixin{prefix: pulid.PrefixAccountControl}, TimeMixin{}}
}

// Fields of the AccountControl.
func (AccountControl) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Unique().Immutable(),
		field.Bool("frozen").Default(false),
		field.String("frozen_reason").Optional().MaxRuneLen(500),
		field.Bool("collection_restricted").Default(false),
		field.String("restriction_reason").Optional().MaxRuneLen(500),
		field.String("updated_by").GoType(pulid.ID("")).Optional().Comment("the operator who changed it last"),
	}
}

// Annotations of the AccountControl.
func (AccountControl) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
