package resolvers

import (
	"danbao/auth"
	"danbao/graph/model"
)

// authPayload maps a sign-in result to AuthPayload.
func authPayload(s *auth.Session, err error) (*model.AuthPayload, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	p := &model.AuthPayload{UserErrors: ues}
	if s != nil {
		p.AccessToken, p.RefreshToken, p.ExpiresAt, p.User = &s.AccessToken, &s.RefreshToken, &s.ExpiresAt, s.User
	}
	return p, nil
}
