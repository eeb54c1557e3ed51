package realname_test

import (
	"context"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/kyc"
	"danbao/internal/realname"
	"danbao/internal/testenv"
)

// TestHKPermitReissuesAreOnePerson: the 8- and 10-digit forms of one Hong
// Kong permit (the last two digits count re-issues) verify one wallet only.
func TestHKPermitReissuesAreOnePerson(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		s, _ := service(t, e, keyring(t, 1), realname.Sandbox{})
		ctx := context.Background()
		first := e.Register(t)
		if _, err := s.Submit(ctx, pulid.ID(first.ID), kyc.Request{LegalName: "Chan Tai Man", IDType: kyc.HKMacauPermit, IDNumber: "H12345678"}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"H1234567801", "H1234567802"} {
			u := e.Register(t)
			_, err := s.Submit(ctx, pulid.ID(u.ID), kyc.Request{LegalName: "Chan Tai Man", IDType: kyc.HKMacauPermit, IDNumber: n})
			if !apperr.Is(err, apperr.AlreadyExists) {
				t.Fatalf("%s verified a second wallet: %v", n, err)
			}
		}
	})
}

// TestTaiwanResidencePermitNumbers: residence permits of Taiwan residents
// (numbers beginning 83) are resident ID numbers like those of 81 and 82.
func TestTaiwanResidencePermitNumbers(t *testing.T) {
	for _, base := range []string{"83000019900101001", "81000019900101001", "82000019900101001"} {
		if _, err := kyc.NormalizeIDNumber(kyc.ResidentID, residentID(base), time.Now()); err != nil {
			t.Errorf("%s...: %v", base[:6], err)
		}
	}
}

// TestNoSelfReview: an operator cannot decide their own request; another
// operator can.
func TestNoSelfReview(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	s, _ := service(t, e, keyring(t, 1), realname.Sandbox{})
	ctx := context.Background()
	op := pulid.ID(e.Operator(t).ID)
	v, err := s.Submit(ctx, op, kyc.Request{LegalName: "PENDING Zhang", IDType: kyc.ResidentID, IDNumber: testenv.NewResidentID()})
	if err != nil || v.Status != kyc.Pending {
		t.Fatalf("submit: %v %+v", err, v)
	}
	if _, err := s.Review(ctx, op, realname.ReviewInput{VerificationID: v.ID, Approve: true}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("self-review: %v", err)
	}
	other := pulid.ID(e.Operator(t).ID)
	if got, err := s.Review(ctx, other, realname.ReviewInput{VerificationID: v.ID, Approve: true}); err != nil || got.Status != kyc.Verified {
		t.Fatalf("review by another operator: %v", err)
	}
}
