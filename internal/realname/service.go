package realname

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"danbao/ent"
	"danbao/ent/identitybinding"
	"danbao/ent/schema/pulid"
	"danbao/ent/verification"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/page"
	"danbao/internal/vault"
)

// MaxReasonLen bounds a review's reason, in characters.
const MaxReasonLen = 500

// indexPurpose separates the ID number's blind index from any other.
const indexPurpose = "kyc.idNumber"

// Purposes of the encrypted columns, bound into their associated data.
const (
	purposeLegalName = "legalName"
	purposeIDNumber  = "idNumber"
	purposeEvidence  = "evidence"
)

// Service stores and decides real-name verification requests.
type Service struct {
	client   *ent.Client
	keys     *vault.Keyring
	verifier Verifier
	cfg      kyc.Config
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Service that encrypts with keys, asks verifier, and checks
// requests against cfg.
func New(client *ent.Client, keys *vault.Keyring, verifier Verifier, cfg kyc.Config, log *slog.Logger) *Service {
	return &Service{client: client, keys: keys, verifier: verifier, cfg: cfg, log: log, now: time.Now}
}

// SetClock replaces the service's clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Config returns the level configuration the service checks requests
// against.
func (s *Service) Config() kyc.Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Submit stores userID's request for verification and asks the verifier
// about it. A wallet with no verification asks for its first level; a
// verified wallet may ask for a higher level with the same identity (an
// upgrade). The returned request is as the verifier left it: VERIFIED,
// REJECTED, or PENDING.
//
// Errors: INVALID_INPUT (idType, idNumber, legalName, targetLevel,
// evidence; idNumber or legalName also when an upgrade does not present the
// verified identity), ALREADY_EXISTS on idNumber (the number verifies
// another wallet or is pending for one), INVALID_STATE (a request is
// already pending, or the wallet is verified at or above the target level).
// Nothing is stored on any of them.
func (s *Service) Submit(ctx context.Context, userID pulid.ID, in kyc.Request) (*ent.Verification, error) {
	now := s.clock()
	req, err := s.cfg.ValidateRequest(in, now)
	if err != nil {
		return nil, err
	}
	index := s.blindIndex(req.IDType, req.IDNumber)
	var v *ent.Verification
	for attempt := 1; ; attempt++ {
		err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
			var err error
			v, err = s.submit(ctx, tx, userID, req, index, now)
			return err
		})
		// A unique violation means a concurrent request claimed the number
		// or the wallet between our check and our insert; running once more
		// sees the winner and answers precisely.
		if attempt < 2 && dbtx.IsUniqueViolation(err) {
			continue
		}
		break
	}
	if dbtx.IsUniqueViolation(err) {
		return nil, errNumberTaken()
	}
	if err != nil {
		return nil, err
	}
	v = v.Unwrap() // loaded in the committed transaction: query through the client from now on
	// The request is committed; whatever happens now, it exists. The
	// decision is recorded even if the caller has gone away.
	return s.consult(context.WithoutCancel(ctx), v, req), nil
}

func errNumberTaken() error {
	return apperr.New(apperr.AlreadyExists, "this ID number is already used to verify another account").WithField("idNumber")
}

func (s *Service) submit(ctx context.Context, tx *ent.Tx, userID pulid.ID, req kyc.Request, index []byte, now time.Time) (*ent.Verification, error) {
	id := verification.DefaultID()
	b, err := tx.IdentityBinding.Query().Where(identitybinding.UserID(userID)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	level := kyc.Unverified
	switch {
	case b == nil:
		// A first request claims the number for this wallet.
		taken, err := tx.IdentityBinding.Query().Where(identitybinding.IDNumberIndex(index)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if taken {
			return nil, errNumberTaken()
		}
		if err := tx.IdentityBinding.Create().SetUserID(userID).SetIDNumberIndex(index).
			SetLevel(kyc.Unverified).SetPendingVerificationID(id).Exec(ctx); err != nil {
			return nil, err
		}
	case b.PendingVerificationID != nil:
		return nil, apperr.New(apperr.InvalidState, "a verification request is already pending for this account").
			With("status", string(kyc.Pending))
	case b.Level.AtLeast(req.TargetLevel):
		return nil, apperr.New(apperr.InvalidState, "this account is already verified at level %s", b.Level).
			With("status", string(kyc.Verified)).With("level", string(b.Level))
	default:
		// An upgrade: same document, same person.
		if subtle.ConstantTimeCompare(b.IDNumberIndex, index) != 1 {
			return nil, apperr.Invalid("idNumber", "an upgrade must use the identity document this account is verified with")
		}
		verified, err := s.verifiedRequest(ctx, tx.Client(), userID)
		if err != nil {
			return nil, err
		}
		name, err := s.open(verified, purposeLegalName, verified.LegalNameCiphertext)
		if err != nil {
			return nil, err
		}
		if !kyc.SameName(string(name), req.LegalName) {
			return nil, apperr.Invalid("legalName", "an upgrade must use the legal name this account is verified with")
		}
		// Compare-and-set: only one request may be pending.
		n, err := tx.IdentityBinding.Update().
			Where(identitybinding.ID(b.ID), identitybinding.PendingVerificationIDIsNil(), identitybinding.LevelEQ(b.Level)).
			SetPendingVerificationID(id).Save(ctx)
		if err != nil {
			return nil, err
		}
		if n != 1 {
			return nil, apperr.New(apperr.InvalidState, "this account's verification changed meanwhile; try again")
		}
		level = b.Level
	}

	evidence, err := json.Marshal(req.Evidence)
	if err != nil {
		return nil, err
	}
	seal := func(purpose string, plaintext []byte) ([]byte, int, error) {
		return s.keys.Encrypt(plaintext, aad(userID, id, purpose))
	}
	nameCT, version, err := seal(purposeLegalName, []byte(req.LegalName))
	if err != nil {
		return nil, err
	}
	numberCT, _, err := seal(purposeIDNumber, []byte(req.IDNumber))
	if err != nil {
		return nil, err
	}
	evidenceCT, _, err := seal(purposeEvidence, evidence)
	if err != nil {
		return nil, err
	}
	return tx.Verification.Create().
		SetID(id).
		SetUserID(userID).
		SetStatus(kyc.Pending).
		SetLevel(level).
		SetTargetLevel(req.TargetLevel).
		SetIDType(req.IDType).
		SetMaskedIDNumber(kyc.MaskIDNumber(req.IDNumber)).
		SetMaskedLegalName(kyc.MaskLegalName(req.LegalName)).
		SetEvidenceCount(len(req.Evidence)).
		SetLegalNameCiphertext(nameCT).
		SetIDNumberCiphertext(numberCT).
		SetEvidenceCiphertext(evidenceCT).
		SetKeyVersion(version).
		SetIDNumberIndex(index).
		SetSubmittedAt(now).
		Save(ctx)
}

// consult asks the verifier about a freshly stored request and records a
// final answer. Failures are logged (by request ID only) and leave the
// request pending for an operator.
func (s *Service) consult(ctx context.Context, v *ent.Verification, req kyc.Request) *ent.Verification {
	d, err := s.verifier.Verify(ctx, VerifyRequest{VerificationID: v.ID, UserID: v.UserID, Request: req})
	if err != nil {
		s.log.WarnContext(ctx, "verifier failed; the request stays pending", "verification", v.ID, "verifier", s.verifier.Name(), "error", err)
		return v
	}
	if d.Outcome == kyc.Undecided {
		return v
	}
	out, err := s.decide(ctx, v.ID, d, "verifier:"+s.verifier.Name(), nil)
	if err != nil {
		if !apperr.Is(err, apperr.InvalidState) {
			s.log.WarnContext(ctx, "recording the verifier's decision failed; the request stays pending", "verification", v.ID, "error", err)
		}
		if cur, gerr := s.client.Verification.Get(ctx, v.ID); gerr == nil {
			return cur
		}
		return v
	}
	return out
}

// Resolve records an asynchronous verifier's decision on a pending
// request, as its callback handler or poller receives it.
//
// Errors: NOT_FOUND, INVALID_STATE (the request was already decided),
// INVALID_INPUT (an approval without a valid level, or at a level whose
// evidence the request did not carry; a rejection without a reason).
func (s *Service) Resolve(ctx context.Context, id pulid.ID, d kyc.Decision) (*ent.Verification, error) {
	return s.decide(ctx, id, d, "verifier:"+s.verifier.Name(), nil)
}

// ReviewInput is an operator's decision on a pending request.
type ReviewInput struct {
	VerificationID pulid.ID
	Approve        bool
	// Level is the level to grant when approving; empty means the level
	// the request asked for.
	Level kyc.Level
	// Reason is required when rejecting, and shown to the user.
	Reason string
}

// Review records an operator's decision on a pending request. The caller
// has checked that reviewer is an operator.
//
// Errors: NOT_FOUND (no such request), FORBIDDEN (the reviewer's own
// request), INVALID_STATE (the request is not pending), INVALID_INPUT
// (level not I, II or III, or above what the request's evidence allows:
// extensions requiredEvidence, evidenceCount; reason missing when
// rejecting, or too long).
func (s *Service) Review(ctx context.Context, reviewer pulid.ID, in ReviewInput) (*ent.Verification, error) {
	reason := strings.TrimSpace(in.Reason)
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReasonLen {
		return nil, apperr.Invalid("reason", "reason must have at most %d characters", MaxReasonLen)
	}
	d := kyc.Decision{Outcome: kyc.Reject, Reason: reason}
	if in.Approve {
		if in.Level != "" && (!in.Level.Valid() || in.Level == kyc.Unverified) {
			return nil, apperr.Invalid("level", "level must be I, II or III")
		}
		d = kyc.Decision{Outcome: kyc.Approve, Level: in.Level, Reason: reason}
	} else if reason == "" {
		return nil, apperr.Invalid("reason", "a rejection needs a reason")
	}
	return s.decide(ctx, in.VerificationID, d, "operator", &reviewer)
}

// decide moves a pending request to VERIFIED or REJECTED and updates the
// wallet's binding, in one transaction.
func (s *Service) decide(ctx context.Context, id pulid.ID, d kyc.Decision, by string, reviewer *pulid.ID) (*ent.Verification, error) {
	switch d.Outcome {
	case kyc.Approve:
		if d.Level != "" && (!d.Level.Valid() || d.Level == kyc.Unverified) {
			return nil, apperr.Invalid("level", "level must be I, II or III")
		}
	case kyc.Reject:
		if strings.TrimSpace(d.Reason) == "" {
			return nil, apperr.Invalid("reason", "a rejection needs a reason")
		}
	default:
		return nil, apperr.New(apperr.InvalidInput, "a decision approves or rejects")
	}
	now := s.clock()
	var out *ent.Verification
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		v, err := tx.Verification.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "no verification request with this ID")
		}
		if err != nil {
			return err
		}
		if reviewer != nil && *reviewer == v.UserID {
			return apperr.New(apperr.Forbidden, "operators cannot review their own verification")
		}
		if v.Status != kyc.Pending {
			return apperr.New(apperr.InvalidState, "this verification request is already %s", v.Status).
				With("status", string(v.Status))
		}
		to := kyc.Rejected
		if d.Outcome == kyc.Approve {
			to = kyc.Verified
			// A level needs its evidence, whoever decides: an operator's
			// approval above what the request carried would lift the
			// wallet's limits without it (found in review).
			granted := cmp.Or(d.Level, v.TargetLevel)
			if need := s.cfg.Rule(granted).Evidence; v.EvidenceCount < need {
				return apperr.Invalid("level", "level %s needs %d evidence entries; the request carried %d", granted, need, v.EvidenceCount).
					With("requiredEvidence", need).With("evidenceCount", v.EvidenceCount)
			}
		}
		// Compare-and-set on the status first: a concurrent decision of the
		// same request loses here (on PostgreSQL it waits for the winner's
		// commit, then finds the status changed), before it reads anything
		// the winner may have changed.
		upd := tx.Verification.Update().
			Where(verification.ID(id), verification.StatusEQ(kyc.Pending)).
			SetStatus(to).SetDecidedAt(now).SetDecidedBy(by).SetNillableReviewerID(reviewer)
		if d.Reason != "" {
			upd.SetReason(d.Reason)
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return err
		}
		if n != 1 {
			return apperr.New(apperr.InvalidState, "this verification request was decided meanwhile")
		}
		// This transaction now owns the decision, and the binding cannot
		// change under it: it points at this pending request.
		b, err := tx.IdentityBinding.Query().Where(identitybinding.UserID(v.UserID)).Only(ctx)
		if err != nil {
			return fmt.Errorf("binding of pending verification %s: %w", id, err)
		}
		level := b.Level
		if granted := cmp.Or(d.Level, v.TargetLevel); to == kyc.Verified && granted.Rank() > level.Rank() {
			level = granted
		}
		if err := tx.Verification.UpdateOneID(id).SetLevel(level).Exec(ctx); err != nil {
			return err
		}
		mine := identitybinding.And(identitybinding.ID(b.ID), identitybinding.PendingVerificationID(id))
		if to == kyc.Rejected && b.Level == kyc.Unverified {
			// A rejected first request frees the number.
			n, err = tx.IdentityBinding.Delete().Where(mine).Exec(ctx)
		} else {
			n, err = tx.IdentityBinding.Update().Where(mine).
				SetLevel(level).ClearPendingVerificationID().Save(ctx)
		}
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("binding of user %s does not point at pending verification %s", v.UserID, id)
		}
		out, err = tx.Verification.Get(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// Latest returns userID's latest verification request, or nil if there is
// none.
func (s *Service) Latest(ctx context.Context, userID pulid.ID) (*ent.Verification, error) {
	v, err := s.client.Verification.Query().Where(verification.UserID(userID)).
		Order(ent.Desc(verification.FieldSubmittedAt), ent.Desc(verification.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// PendingVerifications returns a page of the requests waiting for a
// decision, oldest first. The caller has checked that it is an operator.
//
// Page sizes follow package page. Errors: INVALID_INPUT (first outside
// 0..page.Max).
func (s *Service) PendingVerifications(ctx context.Context, first *int, after *ent.Cursor) (*ent.VerificationConnection, error) {
	first, _, err := page.Bound(first, nil)
	if err != nil {
		return nil, err
	}
	return s.client.Verification.Query().Where(verification.StatusEQ(kyc.Pending)).
		Paginate(ctx, after, first, nil, nil)
}

// Level returns userID's verification level (Unverified when the wallet
// has no binding, or only a pending first request). Pass tx.Client() to
// read inside a transaction.
func (s *Service) Level(ctx context.Context, c *ent.Client, userID pulid.ID) (kyc.Level, error) {
	b, err := c.IdentityBinding.Query().Where(identitybinding.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return kyc.Unverified, nil
	}
	if err != nil {
		return "", err
	}
	return b.Level, nil
}

// CheckCardHolder checks, in the caller's transaction, that a bank card
// with holderName may be linked to userID's wallet: the wallet must be
// verified (level I or above) and holderName must be its verified legal
// name (compared as kyc.SameName does: ignoring case, spaces and the marks
// · - ' .).
//
// Errors: VERIFICATION_REQUIRED (extensions requiredLevel "I"),
// INVALID_INPUT on holderName (malformed, or not the verified name).
func (s *Service) CheckCardHolder(ctx context.Context, tx *ent.Tx, userID pulid.ID, holderName string) error {
	level, err := s.Level(ctx, tx.Client(), userID)
	if err != nil {
		return err
	}
	if !level.AtLeast(kyc.LevelI) {
		return apperr.New(apperr.VerificationRequired, "complete real-name verification before linking a bank card").
			With("level", string(level)).With("requiredLevel", string(kyc.LevelI))
	}
	name, err := kyc.NormalizeLegalName(holderName)
	if ae, ok := apperr.As(err); ok {
		return ae.WithField("holderName")
	}
	v, err := s.verifiedRequest(ctx, tx.Client(), userID)
	if err != nil {
		return err
	}
	legal, err := s.open(v, purposeLegalName, v.LegalNameCiphertext)
	if err != nil {
		return err
	}
	if !kyc.SameName(string(legal), name) {
		return apperr.Invalid("holderName", "the card holder must be the account's verified legal name")
	}
	return nil
}

// verifiedRequest returns the latest VERIFIED request of userID.
func (s *Service) verifiedRequest(ctx context.Context, c *ent.Client, userID pulid.ID) (*ent.Verification, error) {
	v, err := c.Verification.Query().
		Where(verification.UserID(userID), verification.StatusEQ(kyc.Verified)).
		Order(ent.Desc(verification.FieldDecidedAt), ent.Desc(verification.FieldID)).First(ctx)
	if err != nil {
		return nil, fmt.Errorf("verified request of user %s: %w", userID, err)
	}
	return v, nil
}

// RotateKeys re-encrypts, under the current key, every request stored under
// an older key version, at most batch rows per transaction, and returns how
// many it rewrote. After it returns, the old key versions may be removed
// from DANBAO_KYC_KEYS.
func (s *Service) RotateKeys(ctx context.Context, batch int) (int, error) {
	if batch < 1 {
		batch = 100
	}
	return dbtx.Batches(ctx, s.client, func(tx *ent.Tx) (int, error) {
		rows, err := tx.Verification.Query().
			Where(verification.KeyVersionNEQ(s.keys.CurrentVersion())).
			Order(ent.Asc(verification.FieldID)).Limit(batch).All(ctx)
		if err != nil {
			return 0, err
		}
		done := 0
		for _, v := range rows {
			var cts [3][]byte
			for i, col := range []struct {
				purpose string
				ct      []byte
			}{{purposeLegalName, v.LegalNameCiphertext}, {purposeIDNumber, v.IDNumberCiphertext}, {purposeEvidence, v.EvidenceCiphertext}} {
				pt, err := s.open(v, col.purpose, col.ct)
				if err != nil {
					return 0, err
				}
				if cts[i], _, err = s.keys.Encrypt(pt, aad(v.UserID, v.ID, col.purpose)); err != nil {
					return 0, err
				}
			}
			n, err := tx.Verification.Update().
				Where(verification.ID(v.ID), verification.KeyVersion(v.KeyVersion)).
				SetLegalNameCiphertext(cts[0]).SetIDNumberCiphertext(cts[1]).SetEvidenceCiphertext(cts[2]).
				SetKeyVersion(s.keys.CurrentVersion()).Save(ctx)
			if err != nil {
				return 0, err
			}
			done += n
		}
		return done, nil
	})
}

// open decrypts one encrypted column of v.
func (s *Service) open(v *ent.Verification, purpose string, ct []byte) ([]byte, error) {
	pt, err := s.keys.Decrypt(ct, v.KeyVersion, aad(v.UserID, v.ID, purpose))
	if err != nil {
		return nil, fmt.Errorf("decrypting %s of verification %s: %w", purpose, v.ID, err)
	}
	return pt, nil
}

func (s *Service) blindIndex(t kyc.IDType, number string) []byte {
	return s.keys.BlindIndex(indexPurpose, string(t)+":"+kyc.IdentityKey(t, number))
}

// aad binds a ciphertext to its user, its row and its purpose, so that it
// cannot be moved to another user's row or another column.
func aad(userID, id pulid.ID, purpose string) []byte {
	return []byte("danbao/kyc/v1\x00" + string(userID) + "\x00" + string(id) + "\x00" + purpose)
}
