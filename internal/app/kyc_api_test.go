package app_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"danbao/internal/kyc"
	"danbao/internal/testenv"
)

// Resident ID numbers with correct check digits (the published example and
// numbers built with kyc.CheckDigit), one per role in these tests.
var (
	idLiSi   = residentID("11010519491231002")
	idWang   = residentID("44052419800101006")
	idZhao   = residentID("32010219851112123")
	idQian   = residentID("11010520000229001")
	idSun    = residentID("65010219900101001")
	idZhou   = residentID("11010519900307451")
	allIDNos = []string{idLiSi, idWang, idZhao, idQian, idSun, idZhou, "E12345678"}
)

func residentID(first17 string) string {
	c, err := kyc.CheckDigit(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

const verificationFields = `id status level targetLevel idType maskedIdNumber legalName evidenceCount reason submittedAt decidedAt`

const submitMutation = `mutation($in: SubmitRealNameVerificationInput!) { submitRealNameVerification(input: $in) {
	verification { ` + verificationFields + ` }
	userErrors { code message field extensions } } }`

const meKYCQuery = `{ me { id verification { ` + verificationFields + ` }
	limits { level rights balancePayments { name period limit used remaining currency resetsAt } } } }`

type verificationJSON struct {
	ID             string     `json:"id"`
	Status         string     `json:"status"`
	Level          string     `json:"level"`
	TargetLevel    string     `json:"targetLevel"`
	IDType         string     `json:"idType"`
	MaskedIDNumber string     `json:"maskedIdNumber"`
	LegalName      string     `json:"legalName"`
	EvidenceCount  int        `json:"evidenceCount"`
	Reason         *string    `json:"reason"`
	SubmittedAt    time.Time  `json:"submittedAt"`
	DecidedAt      *time.Time `json:"decidedAt"`
}

type userErrorJSON struct {
	Code       string         `json:"code"`
	Message    string         `json:"message"`
	Field      []string       `json:"field"`
	Extensions map[string]any `json:"extensions"`
}

type limitsJSON struct {
	Level           string   `json:"level"`
	Rights          []string `json:"rights"`
	BalancePayments []struct {
		Name, Period, Limit, Used, Remaining, Currency string
		ResetsAt                                       *time.Time
	} `json:"balancePayments"`
}

type meKYC struct {
	ID           string            `json:"id"`
	Verification *verificationJSON `json:"verification"`
	Limits       limitsJSON        `json:"limits"`
}

// kycClient drives the KYC API for one environment and keeps every
// response, so a test can prove afterwards that none carried an ID number.
type kycClient struct {
	e         *testenv.Env
	responses []string
}

func (c *kycClient) do(t *testing.T, token, query string, vars map[string]any) *testenv.Response {
	t.Helper()
	r := c.e.Do(t, token, query, vars)
	b, _ := json.Marshal(r)
	c.responses = append(c.responses, string(b))
	return r
}

type submitInput struct {
	LegalName   string   `json:"legalName"`
	IDType      string   `json:"idType"`
	IDNumber    string   `json:"idNumber"`
	TargetLevel string   `json:"targetLevel,omitempty"`
	Evidence    []string `json:"evidence,omitempty"`
}

func (in submitInput) vars() map[string]any {
	b, _ := json.Marshal(in)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return map[string]any{"in": m}
}

// submit calls submitRealNameVerification and returns its verification and
// userErrors.
func (c *kycClient) submit(t *testing.T, token string, in submitInput) (*verificationJSON, []userErrorJSON) {
	t.Helper()
	var out struct {
		SubmitRealNameVerification struct {
			Verification *verificationJSON
			UserErrors   []userErrorJSON
		}
	}
	c.do(t, token, submitMutation, in.vars()).Decode(t, &out)
	p := out.SubmitRealNameVerification
	if len(p.UserErrors) > 0 && p.Verification != nil {
		t.Fatalf("payload has both a verification and userErrors: %+v", p)
	}
	return p.Verification, p.UserErrors
}

// mustSubmit submits and fails on userErrors.
func (c *kycClient) mustSubmit(t *testing.T, token string, in submitInput) *verificationJSON {
	t.Helper()
	v, ues := c.submit(t, token, in)
	if len(ues) > 0 || v == nil {
		t.Fatalf("submit %q: userErrors %+v", in.LegalName, ues)
	}
	return v
}

// refused submits and checks the single userError's code and field.
func (c *kycClient) refused(t *testing.T, token string, in submitInput, code, field string) userErrorJSON {
	t.Helper()
	v, ues := c.submit(t, token, in)
	if v != nil || len(ues) != 1 {
		t.Fatalf("submit %+v: verification %+v, userErrors %+v; want one %s", in, v, ues, code)
	}
	ue := ues[0]
	if ue.Code != code {
		t.Fatalf("submit %+v: code %s (%s), want %s", in, ue.Code, ue.Message, code)
	}
	if field != "" && !slices.Equal(ue.Field, []string{"input", field}) {
		t.Fatalf("submit %+v: field %v, want [input %s]", in, ue.Field, field)
	}
	return ue
}

func (c *kycClient) me(t *testing.T, token string) meKYC {
	t.Helper()
	var out struct{ Me meKYC }
	c.do(t, token, meKYCQuery, nil).Decode(t, &out)
	return out.Me
}

const reviewMutation = `mutation($in: ReviewVerificationInput!) { reviewVerification(input: $in) {
	verification { ` + verificationFields + ` user { id } }
	userErrors { code message field } } }`

func (c *kycClient) review(t *testing.T, token string, in map[string]any) (*verificationJSON, []userErrorJSON) {
	t.Helper()
	var out struct {
		ReviewVerification struct {
			Verification *verificationJSON
			UserErrors   []userErrorJSON
		}
	}
	c.do(t, token, reviewMutation, map[string]any{"in": in}).Decode(t, &out)
	return out.ReviewVerification.Verification, out.ReviewVerification.UserErrors
}

const pendingQuery = `query($first: Int, $after: Cursor) { pendingVerifications(first: $first, after: $after) {
	totalCount pageInfo { hasNextPage endCursor }
	edges { cursor node { id status legalName maskedIdNumber user { id } } } } }`

type pendingJSON struct {
	PendingVerifications struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Edges []struct {
			Node struct {
				ID, Status, LegalName, MaskedIDNumber string
				User                                  struct{ ID string }
			}
		}
	}
}

func countRows(t *testing.T, e *testenv.Env) (verifications, bindings int) {
	t.Helper()
	ctx := context.Background()
	v, err := e.App.DB.Client.Verification.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.App.DB.Client.IdentityBinding.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return v, b
}

func wantCodes(t *testing.T, r *testenv.Response, code string) {
	t.Helper()
	if got := r.Codes(); len(got) != 1 || got[0] != code {
		t.Fatalf("top-level codes %v, want [%s]", got, code)
	}
}

func evidence(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "external-source-" + string(rune('A'+i))
	}
	return out
}

// TestRealNameVerificationFlow: a user verifies, the sandbox approves at
// level I, me.limits shows 1,000.00 CNY to spend over the account's life;
// the same identity upgrades to level II with three evidence entries.
func TestRealNameVerificationFlow(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := &kycClient{e: e}
		u := e.Register(t)

		// Before: no verification, unverified, nothing to spend.
		me := c.me(t, u.AccessToken)
		if me.Verification != nil {
			t.Fatalf("new user has a verification: %+v", me.Verification)
		}
		if l := me.Limits; l.Level != "UNVERIFIED" || len(l.Rights) != 0 || len(l.BalancePayments) != 1 ||
			l.BalancePayments[0].Remaining != "0.00" || l.BalancePayments[0].Currency != "CNY" {
			t.Fatalf("unverified limits = %+v", l)
		}

		before := time.Now().Add(-time.Second)
		v := c.mustSubmit(t, u.AccessToken, submitInput{LegalName: "李四", IDType: "RESIDENT_ID", IDNumber: idLiSi})
		if v.Status != "VERIFIED" || v.Level != "I" || v.TargetLevel != "I" || v.IDType != "RESIDENT_ID" {
			t.Fatalf("verification = %+v, want VERIFIED at I", v)
		}
		if want := idLiSi[:3] + "***********" + idLiSi[14:]; v.MaskedIDNumber != want {
			t.Errorf("maskedIdNumber = %q, want %q", v.MaskedIDNumber, want)
		}
		if v.LegalName != "李*" {
			t.Errorf("legalName = %q, want 李*", v.LegalName)
		}
		if v.SubmittedAt.Before(before) || v.DecidedAt == nil || v.DecidedAt.Before(v.SubmittedAt) || v.Reason != nil {
			t.Errorf("times/reason = %v %v %v", v.SubmittedAt, v.DecidedAt, v.Reason)
		}

		me = c.me(t, u.AccessToken)
		if me.Verification == nil || me.Verification.ID != v.ID || me.Verification.Status != "VERIFIED" ||
			me.Verification.Level != "I" || me.Verification.MaskedIDNumber != v.MaskedIDNumber {
			t.Fatalf("me.verification = %+v", me.Verification)
		}
		l := me.Limits
		if l.Level != "I" || !slices.Contains(l.Rights, "PAY") || !slices.Contains(l.Rights, "TOP_UP") || len(l.BalancePayments) != 1 {
			t.Fatalf("level I limits = %+v", l)
		}
		if bp := l.BalancePayments[0]; bp.Name != "LIFETIME_BALANCE_PAYMENTS" || bp.Period != "LIFETIME" || bp.Limit != "1000.00" ||
			bp.Used != "0.00" || bp.Remaining != "1000.00" || bp.Currency != "CNY" || bp.ResetsAt != nil {
			t.Fatalf("level I balance payments = %+v", bp)
		}

		// The owner finds the verification by its global ID; another user
		// does not.
		nodeQ := `query($id: ID!) { node(id: $id) { id ... on Verification { status legalName } } }`
		var node struct{ Node *struct{ ID, Status string } }
		c.do(t, u.AccessToken, nodeQ, map[string]any{"id": v.ID}).Decode(t, &node)
		if node.Node == nil || node.Node.ID != v.ID || node.Node.Status != "VERIFIED" {
			t.Fatalf("node(verification) for its owner = %+v", node.Node)
		}
		other := e.Register(t)
		wantCodes(t, c.do(t, other.AccessToken, nodeQ, map[string]any{"id": v.ID}), "NOT_FOUND")
		// Nor can another user read it through the User type.
		var otherMe struct{ Me meKYC }
		c.do(t, other.AccessToken, meKYCQuery, nil).Decode(t, &otherMe)
		if otherMe.Me.Verification != nil || otherMe.Me.Limits.Level != "UNVERIFIED" {
			t.Fatalf("another user's me = %+v", otherMe.Me)
		}

		// Upgrade to level II: same identity, three evidence entries.
		up := c.mustSubmit(t, u.AccessToken, submitInput{LegalName: "李四", IDType: "RESIDENT_ID", IDNumber: idLiSi,
			TargetLevel: "II", Evidence: evidence(3)})
		if up.Status != "VERIFIED" || up.Level != "II" || up.EvidenceCount != 3 || up.ID == v.ID {
			t.Fatalf("upgrade = %+v", up)
		}
		l = c.me(t, u.AccessToken).Limits
		if bp := l.BalancePayments[0]; l.Level != "II" || bp.Name != "ANNUAL_BALANCE_PAYMENTS" || bp.Period != "YEAR" ||
			bp.Limit != "100000.00" || bp.Remaining != "100000.00" || bp.ResetsAt == nil || !bp.ResetsAt.After(time.Now()) {
			t.Fatalf("level II limits = %+v", l)
		}

		// An upgrade must present the verified identity.
		c.refused(t, u.AccessToken, submitInput{LegalName: "李四", IDType: "RESIDENT_ID", IDNumber: idWang,
			TargetLevel: "III", Evidence: evidence(5)}, "INVALID_INPUT", "idNumber")
		c.refused(t, u.AccessToken, submitInput{LegalName: "王五", IDType: "RESIDENT_ID", IDNumber: idLiSi,
			TargetLevel: "III", Evidence: evidence(5)}, "INVALID_INPUT", "legalName")
		if n, _ := countRows(t, e); n != 2 {
			t.Fatalf("%d verification rows after refused upgrades, want 2", n)
		}

		// Signed out: UNAUTHENTICATED at the top level.
		wantCodes(t, c.do(t, "", submitMutation, submitInput{LegalName: "李四", IDType: "RESIDENT_ID", IDNumber: idLiSi}.vars()), "UNAUTHENTICATED")
	})
}

// TestRealNameRejectPendingAndReview drives the sandbox's REJECT and
// PENDING names and an operator's review of what is pending.
func TestRealNameRejectPendingAndReview(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := &kycClient{e: e}
		op := e.Operator(t)

		// REJECT: rejected with a reason, still unverified, and free to try
		// again with the same number.
		u1 := e.Register(t)
		v := c.mustSubmit(t, u1.AccessToken, submitInput{LegalName: "REJECT Wang", IDType: "RESIDENT_ID", IDNumber: idWang})
		if v.Status != "REJECTED" || v.Level != "UNVERIFIED" || v.Reason == nil || *v.Reason == "" || v.DecidedAt == nil {
			t.Fatalf("REJECT name: %+v", v)
		}
		if me := c.me(t, u1.AccessToken); me.Limits.Level != "UNVERIFIED" || me.Verification.Status != "REJECTED" {
			t.Fatalf("after rejection: %+v", me)
		}
		if v2 := c.mustSubmit(t, u1.AccessToken, submitInput{LegalName: "Wang Wu", IDType: "RESIDENT_ID", IDNumber: idWang}); v2.Status != "VERIFIED" {
			t.Fatalf("resubmission after rejection: %+v", v2)
		}

		// PENDING: stays pending; the user cannot submit again meanwhile.
		u2 := e.Register(t)
		p := c.mustSubmit(t, u2.AccessToken, submitInput{LegalName: "PENDING Zhao", IDType: "RESIDENT_ID", IDNumber: idZhao})
		if p.Status != "PENDING" || p.Level != "UNVERIFIED" || p.DecidedAt != nil {
			t.Fatalf("PENDING name: %+v", p)
		}
		c.refused(t, u2.AccessToken, submitInput{LegalName: "Zhao Liu", IDType: "RESIDENT_ID", IDNumber: idZhao}, "INVALID_STATE", "")
		u3 := e.Register(t)
		p3 := c.mustSubmit(t, u3.AccessToken, submitInput{LegalName: "PENDING Qian", IDType: "PASSPORT", IDNumber: "E12345678"})

		// The queue is for operators only.
		wantCodes(t, c.do(t, u2.AccessToken, pendingQuery, nil), "FORBIDDEN")
		wantCodes(t, c.do(t, "", pendingQuery, nil), "UNAUTHENTICATED")
		wantCodes(t, c.do(t, u2.AccessToken, reviewMutation, map[string]any{"in": map[string]any{"verificationId": p.ID, "approve": true}}), "FORBIDDEN")

		var q pendingJSON
		c.do(t, op.AccessToken, pendingQuery, map[string]any{"first": 1}).Decode(t, &q)
		pv := q.PendingVerifications
		if pv.TotalCount != 2 || len(pv.Edges) != 1 || !pv.PageInfo.HasNextPage || pv.Edges[0].Node.ID != p.ID ||
			pv.Edges[0].Node.User.ID != u2.ID || pv.Edges[0].Node.LegalName != "P****** ****" {
			t.Fatalf("first page of the queue = %+v", pv)
		}
		c.do(t, op.AccessToken, pendingQuery, map[string]any{"first": 1, "after": *pv.PageInfo.EndCursor}).Decode(t, &q)
		if pv := q.PendingVerifications; len(pv.Edges) != 1 || pv.Edges[0].Node.ID != p3.ID || pv.PageInfo.HasNextPage {
			t.Fatalf("second page of the queue = %+v", pv)
		}
		wantCodes(t, c.do(t, op.AccessToken, pendingQuery, map[string]any{"first": 101}), "INVALID_INPUT")

		// The operator approves the first at the level asked for.
		r, ues := c.review(t, op.AccessToken, map[string]any{"verificationId": p.ID, "approve": true})
		if len(ues) > 0 || r == nil || r.Status != "VERIFIED" || r.Level != "I" {
			t.Fatalf("approve: %+v %+v", r, ues)
		}
		if me := c.me(t, u2.AccessToken); me.Limits.Level != "I" || me.Limits.BalancePayments[0].Remaining != "1000.00" {
			t.Fatalf("after approval: %+v", me.Limits)
		}
		// A decided request cannot be decided again.
		if _, ues := c.review(t, op.AccessToken, map[string]any{"verificationId": p.ID, "approve": false, "reason": "changed my mind"}); len(ues) != 1 || ues[0].Code != "INVALID_STATE" {
			t.Fatalf("second review: %+v", ues)
		}
		if _, ues := c.review(t, op.AccessToken, map[string]any{"verificationId": "kyv_01J00000000000000000000000", "approve": true}); len(ues) != 1 || ues[0].Code != "NOT_FOUND" {
			t.Fatalf("review of an unknown request: %+v", ues)
		}
		// Rejecting needs a reason; with one, the user sees it.
		if _, ues := c.review(t, op.AccessToken, map[string]any{"verificationId": p3.ID, "approve": false}); len(ues) != 1 || ues[0].Code != "INVALID_INPUT" ||
			!slices.Equal(ues[0].Field, []string{"input", "reason"}) {
			t.Fatalf("rejection without reason: %+v", ues)
		}
		if _, ues := c.review(t, op.AccessToken, map[string]any{"verificationId": p3.ID, "approve": true, "level": "UNVERIFIED"}); len(ues) != 1 || ues[0].Code != "INVALID_INPUT" {
			t.Fatalf("approval at UNVERIFIED: %+v", ues)
		}
		r, ues = c.review(t, op.AccessToken, map[string]any{"verificationId": p3.ID, "approve": false, "reason": "document unreadable"})
		if len(ues) > 0 || r.Status != "REJECTED" || r.Level != "UNVERIFIED" || r.Reason == nil || *r.Reason != "document unreadable" {
			t.Fatalf("reject: %+v %+v", r, ues)
		}
		if me := c.me(t, u3.AccessToken); me.Verification.Status != "REJECTED" || *me.Verification.Reason != "document unreadable" || me.Limits.Level != "UNVERIFIED" {
			t.Fatalf("rejected user's me: %+v", me)
		}

		// The queue is empty now; operators still see users' verifications.
		c.do(t, op.AccessToken, pendingQuery, nil).Decode(t, &q)
		if q.PendingVerifications.TotalCount != 0 || len(q.PendingVerifications.Edges) != 0 {
			t.Fatalf("queue after review = %+v", q.PendingVerifications)
		}
		var node struct {
			Node struct {
				Verification struct{ Status, Level string }
				Limits       limitsJSON
			}
		}
		c.do(t, op.AccessToken, `query($id: ID!) { node(id: $id) { ... on User { verification { status level } limits { level } } } }`,
			map[string]any{"id": u2.ID}).Decode(t, &node)
		if node.Node.Verification.Status != "VERIFIED" || node.Node.Limits.Level != "I" {
			t.Fatalf("operator's view of the user: %+v", node.Node)
		}
	})
}

// TestOneIDNumberOneWallet: a number verified (or pending) for one wallet
// is refused for another, and no ID number is ever stored, logged or
// returned in the clear.
func TestOneIDNumberOneWallet(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := &kycClient{e: e}
		u1, u2, u3, u4 := e.Register(t), e.Register(t), e.Register(t), e.Register(t)

		c.mustSubmit(t, u1.AccessToken, submitInput{LegalName: "Sun Qi", IDType: "RESIDENT_ID", IDNumber: idSun})
		nv, nb := countRows(t, e)
		ue := c.refused(t, u2.AccessToken, submitInput{LegalName: "Sun Ba", IDType: "RESIDENT_ID", IDNumber: idSun}, "ALREADY_EXISTS", "idNumber")
		if strings.Contains(ue.Message, idSun) {
			t.Errorf("message contains the number: %q", ue.Message)
		}
		// Surrounding spaces do not make another number.
		c.refused(t, u2.AccessToken, submitInput{LegalName: "Sun Ba", IDType: "RESIDENT_ID", IDNumber: "  " + idSun + " "}, "ALREADY_EXISTS", "idNumber")
		if v, b := countRows(t, e); v != nv || b != nb {
			t.Fatalf("refused submissions stored rows: %d/%d, want %d/%d", v, b, nv, nb)
		}
		if me := c.me(t, u2.AccessToken); me.Verification != nil || me.Limits.Level != "UNVERIFIED" {
			t.Fatalf("refused user's me = %+v", me)
		}

		// A pending request holds its number too.
		c.mustSubmit(t, u3.AccessToken, submitInput{LegalName: "PENDING Zhou", IDType: "RESIDENT_ID", IDNumber: idZhou})
		c.refused(t, u4.AccessToken, submitInput{LegalName: "Zhou Jiu", IDType: "RESIDENT_ID", IDNumber: idZhou}, "ALREADY_EXISTS", "idNumber")
		// The same characters on another kind of document are another identity.
		c.mustSubmit(t, u2.AccessToken, submitInput{LegalName: "Qian Shi", IDType: "TAIWAN_PERMIT", IDNumber: "12345678"})
		c.mustSubmit(t, u4.AccessToken, submitInput{LegalName: "Qian Shiyi", IDType: "PASSPORT", IDNumber: "12345678"})

		// A rejected first request frees the number for another wallet.
		u5, u6 := e.Register(t), e.Register(t)
		c.mustSubmit(t, u5.AccessToken, submitInput{LegalName: "REJECT Qian", IDType: "RESIDENT_ID", IDNumber: idQian})
		c.mustSubmit(t, u6.AccessToken, submitInput{LegalName: "Qian Er", IDType: "RESIDENT_ID", IDNumber: idQian})

		secrets := append(slices.Clone(allIDNos), "12345678")
		assertNoPlaintext(t, e, c, secrets, kyc.MaskIDNumber(idSun))
	})
}

// assertNoPlaintext proves that no ID number is in the database (the SQLite
// files' bytes; on PostgreSQL every text and bytea column of every table of
// the test's schema), in the log, or in any response of the test.
//
// stored is a value known to be stored in the clear (a masked number): the
// dump must contain it, or it could not have shown a number either.
func assertNoPlaintext(t *testing.T, e *testenv.Env, c *kycClient, secrets []string, stored string) {
	t.Helper()
	dump := testenv.DumpDatabase(t, e)
	if !strings.Contains(dump, stored) {
		t.Fatalf("the dump does not contain %q; is it complete?", stored)
	}
	logs := e.Logs()
	for _, s := range secrets {
		if strings.Contains(dump, s) {
			t.Errorf("the database holds ID number %s in plain text", kyc.MaskIDNumber(s))
		}
		if strings.Contains(logs, s) {
			t.Errorf("the log holds ID number %s", kyc.MaskIDNumber(s))
		}
		for _, r := range c.responses {
			if strings.Contains(r, s) {
				t.Errorf("a response holds ID number %s", kyc.MaskIDNumber(s))
			}
		}
	}
}

// TestRealNameBadInputChangesNothing: every malformed request is refused
// with INVALID_INPUT on its field (or by GraphQL validation), and leaves no
// trace; so does resubmitting once verified.
func TestRealNameBadInputChangesNothing(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := &kycClient{e: e}
		u := e.Register(t)
		good := submitInput{LegalName: "李四", IDType: "RESIDENT_ID", IDNumber: idLiSi}
		with := func(f func(*submitInput)) submitInput { in := good; f(&in); return in }
		wrongCheck := idLiSi[:17] + map[bool]string{true: "1", false: "0"}[idLiSi[17] == '0']
		tests := []struct {
			name  string
			in    submitInput
			field string
		}{
			{"wrong check digit", with(func(in *submitInput) { in.IDNumber = wrongCheck }), "idNumber"},
			{"unknown region", with(func(in *submitInput) { in.IDNumber = residentID("99010519491231002") }), "idNumber"},
			{"impossible birth date", with(func(in *submitInput) { in.IDNumber = residentID("11010519490230002") }), "idNumber"},
			{"future birth date", with(func(in *submitInput) { in.IDNumber = residentID("11010530000101002") }), "idNumber"},
			{"17 characters", with(func(in *submitInput) { in.IDNumber = idLiSi[:17] }), "idNumber"},
			{"lower-case x", with(func(in *submitInput) { in.IDNumber = "11010519491231002x" }), "idNumber"},
			{"empty number", with(func(in *submitInput) { in.IDNumber = "" }), "idNumber"},
			{"bad passport", with(func(in *submitInput) { in.IDType, in.IDNumber = "PASSPORT", "e1234" }), "idNumber"},
			{"empty name", with(func(in *submitInput) { in.LegalName = "" }), "legalName"},
			{"blank name", with(func(in *submitInput) { in.LegalName = "   " }), "legalName"},
			{"too-long name", with(func(in *submitInput) { in.LegalName = strings.Repeat("李", 65) }), "legalName"},
			{"name with digits", with(func(in *submitInput) { in.LegalName = "Li 4" }), "legalName"},
			{"level II without evidence", with(func(in *submitInput) { in.TargetLevel = "II" }), "evidence"},
			{"level II with two entries", with(func(in *submitInput) { in.TargetLevel, in.Evidence = "II", evidence(2) }), "evidence"},
			{"level III with three entries", with(func(in *submitInput) { in.TargetLevel, in.Evidence = "III", evidence(3) }), "evidence"},
			{"repeated evidence", with(func(in *submitInput) { in.TargetLevel, in.Evidence = "II", []string{"a", "a", "b"} }), "evidence"},
			{"level UNVERIFIED", with(func(in *submitInput) { in.TargetLevel = "UNVERIFIED" }), "targetLevel"},
		}
		for _, tt := range tests {
			c.refused(t, u.AccessToken, tt.in, "INVALID_INPUT", tt.field)
		}
		// Unknown enum values never reach the service: GraphQL refuses them.
		for _, in := range []submitInput{
			with(func(in *submitInput) { in.IDType = "DRIVER_LICENSE" }),
			with(func(in *submitInput) { in.TargetLevel = "IV" }),
		} {
			r := c.do(t, u.AccessToken, submitMutation, in.vars())
			if len(r.Errors) == 0 || r.Errors[0].Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("%+v: errors %+v, want GRAPHQL_VALIDATION_FAILED", in, r.Errors)
			}
		}
		if v, b := countRows(t, e); v != 0 || b != 0 {
			t.Fatalf("bad input stored %d verifications and %d bindings", v, b)
		}
		if me := c.me(t, u.AccessToken); me.Verification != nil || me.Limits.Level != "UNVERIFIED" {
			t.Fatalf("after bad input: %+v", me)
		}

		// Verified at I: asking again for I (or for nothing higher) is
		// INVALID_STATE and changes nothing.
		v := c.mustSubmit(t, u.AccessToken, good)
		c.refused(t, u.AccessToken, good, "INVALID_STATE", "")
		c.refused(t, u.AccessToken, with(func(in *submitInput) { in.TargetLevel = "I" }), "INVALID_STATE", "")
		if nv, nb := countRows(t, e); nv != 1 || nb != 1 {
			t.Fatalf("after resubmitting: %d verifications, %d bindings", nv, nb)
		}
		if me := c.me(t, u.AccessToken); me.Verification.ID != v.ID || me.Verification.Status != "VERIFIED" || me.Limits.Level != "I" {
			t.Fatalf("after resubmitting: %+v", me)
		}
		assertNoPlaintext(t, e, c, []string{idLiSi, wrongCheck, "11010519491231002x"}, v.MaskedIDNumber)
	})
}

// TestReviewGrantsNoLevelBeyondEvidence: an operator approving a pending
// request may not grant a level whose evidence the request did not carry
// (INVALID_INPUT on level, with requiredEvidence and evidenceCount), and
// the request stays pending; the level it carried evidence for is
// granted (found in review: a request for I with no evidence was
// approved at III, 200 times the limits).
func TestReviewGrantsNoLevelBeyondEvidence(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		c := &kycClient{e: e}
		op := e.Operator(t)
		u := e.Register(t)
		p := c.mustSubmit(t, u.AccessToken, submitInput{LegalName: "PENDING Zhao", IDType: "RESIDENT_ID", IDNumber: idZhao})
		if p.Status != "PENDING" || p.EvidenceCount != 0 {
			t.Fatalf("pending: %+v", p)
		}
		for _, level := range []string{"III", "II"} {
			var out struct {
				ReviewVerification struct {
					Verification *verificationJSON
					UserErrors   []userErrorJSON
				}
			}
			c.do(t, op.AccessToken, `mutation($in: ReviewVerificationInput!) { reviewVerification(input: $in) {
				verification { id } userErrors { code field extensions } } }`,
				map[string]any{"in": map[string]any{"verificationId": p.ID, "approve": true, "level": level}}).Decode(t, &out)
			ues := out.ReviewVerification.UserErrors
			if out.ReviewVerification.Verification != nil || len(ues) != 1 || ues[0].Code != "INVALID_INPUT" ||
				ues[0].Field[len(ues[0].Field)-1] != "level" || ues[0].Extensions["evidenceCount"] != float64(0) || ues[0].Extensions["requiredEvidence"] == nil {
				t.Fatalf("approval at %s with no evidence: %+v %+v", level, out.ReviewVerification.Verification, ues)
			}
		}
		v, ues := c.review(t, op.AccessToken, map[string]any{"verificationId": p.ID, "approve": true})
		if len(ues) > 0 || v.Status != "VERIFIED" || v.Level != "I" {
			t.Fatalf("approval at the level asked for: %+v %+v", v, ues)
		}
	})
}
