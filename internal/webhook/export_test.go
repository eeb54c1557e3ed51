package webhook

import (
	"context"

	"danbao/ent"
)

// Claim exposes claim to the tests.
func (s *Service) Claim(ctx context.Context, n int) ([]*ent.WebhookDelivery, error) {
	return s.claim(ctx, n)
}
