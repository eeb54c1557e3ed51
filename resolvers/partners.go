package resolvers

import (
	"danbao/ent"
	"danbao/graph/model"
	"danbao/internal/partner"
	"danbao/internal/webhook"
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

// deliveryConnection maps a page of a delivery log; each cursor names its
// delivery.
func deliveryConnection(pg webhook.DeliveryPage, afterCursor bool) *model.WebhookDeliveryConnection {
	c := &model.WebhookDeliveryConnection{Edges: make([]*model.WebhookDeliveryEdge, len(pg.Deliveries)),
		PageInfo: &ent.PageInfo{HasNextPage: pg.HasNext, HasPreviousPage: afterCursor}}
	for i, d := range pg.Deliveries {
		c.Edges[i] = &model.WebhookDeliveryEdge{Node: d, Cursor: ent.Cursor{ID: d.ID}}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c
}
