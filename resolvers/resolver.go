// Package resolvers holds danbao's GraphQL resolvers: thin adapters that
// decode the input, check who is calling, call one service method and map
// its result and error. Domain rules live in the services, never here.
package resolvers

import (
	"danbao/auth"
	"danbao/ent"
	"danbao/internal/escrow"
	"danbao/internal/events"
	"danbao/internal/ledger"
	"danbao/internal/limits"
	"danbao/internal/partner"
	"danbao/internal/passkey"
	"danbao/internal/realname"
	"danbao/internal/risk"
	"danbao/internal/trust"
	"danbao/internal/wallet"
	"danbao/internal/webhook"
)

// Resolver is the root resolver: the services the resolvers call.
type Resolver struct {
	Client   *ent.Client
	Auth     *auth.Service
	Passkeys *passkey.Service
	Ledger   *ledger.Service
	Wallet   *wallet.Service

	RealName *realname.Service
	Limits   *limits.Service

	// Events follows the outbox for subscriptions; Sockets bounds them.
	Events  *events.Hub
	Sockets *Sockets

	Partners       *partner.Service
	WebhookService *webhook.Service
	Escrow         *escrow.Service
	Trust          *trust.Service
	// Risk runs the operators' queue of held payments and withdrawals.
	Risk *risk.Service
}
