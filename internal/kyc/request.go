package kyc

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"danbao/internal/apperr"
)

// Evidence bounds.
const (
	// MaxEvidence is the most evidence entries one request may carry.
	MaxEvidence = 10
	// MaxEvidenceLen is the longest evidence entry, in characters.
	MaxEvidenceLen = 200
)

// Request is what a user submits to be verified.
type Request struct {
	LegalName string
	IDType    IDType
	IDNumber  string
	// TargetLevel is the level asked for; empty means LevelI.
	TargetLevel Level
	// Evidence lists the external sources or documents backing the request
	// (for example references to uploaded documents or to a bank account
	// already verified in this name). Higher levels need more of them.
	Evidence []string
}

// ValidateRequest checks r against the configuration and returns its
// canonical form (normalized ID number and name, target level set, evidence
// trimmed). Checks run in this order, and the first failure is returned:
// ID type and number (see NormalizeIDNumber), legal name (see
// NormalizeLegalName), target level (I, II or III), evidence (at most
// MaxEvidence distinct entries of 1 to MaxEvidenceLen printable characters,
// at least as many as the target level's rule asks for). Every error is
// INVALID_INPUT naming its field; none contains the ID number.
func (c Config) ValidateRequest(r Request, now time.Time) (Request, error) {
	number, err := NormalizeIDNumber(r.IDType, r.IDNumber, now)
	if err != nil {
		return Request{}, err
	}
	name, err := NormalizeLegalName(r.LegalName)
	if err != nil {
		return Request{}, err
	}
	target := r.TargetLevel
	if target == "" {
		target = LevelI
	}
	if !target.Valid() || target == Unverified {
		return Request{}, apperr.Invalid("targetLevel", "target level must be I, II or III")
	}
	if len(r.Evidence) > MaxEvidence {
		return Request{}, apperr.Invalid("evidence", "at most %d evidence entries", MaxEvidence)
	}
	evidence := make([]string, 0, len(r.Evidence))
	seen := make(map[string]bool, len(r.Evidence))
	for _, e := range r.Evidence {
		e = strings.TrimSpace(e)
		if e == "" || !utf8.ValidString(e) || utf8.RuneCountInString(e) > MaxEvidenceLen {
			return Request{}, apperr.Invalid("evidence", "each evidence entry has 1 to %d characters", MaxEvidenceLen)
		}
		if strings.IndexFunc(e, unicode.IsControl) >= 0 {
			return Request{}, apperr.Invalid("evidence", "evidence entries may not contain control characters")
		}
		if seen[e] {
			return Request{}, apperr.Invalid("evidence", "evidence entries must be distinct")
		}
		seen[e] = true
		evidence = append(evidence, e)
	}
	if need := c.Rule(target).Evidence; len(evidence) < need {
		return Request{}, apperr.Invalid("evidence", "level %s needs %d evidence entries, %d given", target, need, len(evidence)).
			With("requiredEvidence", need)
	}
	return Request{LegalName: name, IDType: r.IDType, IDNumber: number, TargetLevel: target, Evidence: evidence}, nil
}

// Outcome is what a verifier decided about a request.
type Outcome string

// The outcomes.
const (
	// Approve grants the decision's level.
	Approve Outcome = "APPROVE"
	// Reject refuses the request, with a reason.
	Reject Outcome = "REJECT"
	// Undecided leaves the request pending: the verifier answers later, or
	// an operator reviews it.
	Undecided Outcome = "UNDECIDED"
)

// Decision is a verifier's answer.
type Decision struct {
	Outcome Outcome
	Level   Level  // the level granted, for Approve
	Reason  string // why, for Reject (shown to the user)
}

// SandboxDecision is the sandbox verifier's rule (see docs/design.md,
// Sandbox): a
// legal name containing REJECT is rejected, one containing PENDING stays
// pending until an operator reviews it, any other is approved at the
// requested level. Matching is on the upper-case words exactly as written.
// REJECT wins over PENDING.
func SandboxDecision(legalName string, target Level) Decision {
	switch {
	case strings.Contains(legalName, "REJECT"):
		return Decision{Outcome: Reject, Reason: "sandbox: the identity could not be confirmed"}
	case strings.Contains(legalName, "PENDING"):
		return Decision{Outcome: Undecided}
	}
	if target == "" {
		target = LevelI
	}
	return Decision{Outcome: Approve, Level: target}
}
