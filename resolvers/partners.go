package resolvers

import (
	"danbao/graph/model"
	"danbao/internal/partner"
)

// partnerAppPayload maps a created or re-keyed app.
func partnerAppPayload(c *partner.Created, err error) (*model.CreatePartnerAppPayload, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	p := &model.CreatePartnerAppPayload{UserErrors: ues}
	if c != nil {
		p.PartnerApp, p.ClientSecret = c.App, &c.ClientSecret
	}
	return p, nil
}
