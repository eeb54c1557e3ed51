// Package resolvers holds danbao's GraphQL resolvers: thin adapters that
// decode the input, check who is calling, call one service method and map
// its result and error. Domain rules live in the services, never here.
package resolvers

import (
	"danbao/auth"
	"danbao/ent"
	"danbao/internal/escrow"
	"danbao/internal/ledger"
	"danbao/internal/limits"
	"danbao/internal/passkey"
	"danbao/internal/realname"
	"danbao/internal/wallet"
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
	Escrow   *escrow.Service
}
