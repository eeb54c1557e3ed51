package resolvers

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"time"

	"danbao/auth"
	"danbao/graph"
	"danbao/graph/model"
	"danbao/internal/apperr"
	"danbao/internal/obs"
	"danbao/internal/ratelimit"
	"danbao/internal/wallet"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// HandlerConfig are the limits and switches of the GraphQL handler.
type HandlerConfig struct {
	MaxDepth      int  // deepest selection allowed, introspection included
	MaxComplexity int  // gqlgen complexity budget per operation
	MaxTokens     int  // parser token limit
	Introspection bool // also governs field suggestions in error messages
	Logger        *slog.Logger
	Metrics       *obs.Metrics
	// Mutations bounds how fast one caller (a user, or an address when
	// signed out) may run mutation fields; nil or a zero rate: no bound.
	Mutations *ratelimit.Limiter
	// Sockets, when set, serves subscriptions over WebSocket
	// (graphql-transport-ws) with its checks and limits.
	Sockets *Sockets
	// SignInPhone and SignInAddress bound the sign-in mutations (see
	// signInFields) per phone number and per client address, token or
	// not; those are not counted by Mutations. nil: no bound.
	SignInPhone, SignInAddress *ratelimit.Limiter
	// Sessions, when set, refuses mutations (other than signing in and
	// out) under an access token whose session has ended.
	Sessions SessionChecker
	// OperationTimeout bounds a query or mutation that arrives without a
	// deadline (over a subscription socket, which the HTTP request
	// deadline does not cover); 0: no bound.
	OperationTimeout time.Duration
}

// SessionChecker answers whether the caller's session is live (see
// auth.Service.CheckSession).
type SessionChecker interface {
	CheckSession(ctx context.Context) error
}

// NewHandler builds the GraphQL server with explicit transports and
// extensions (never handler.NewDefaultServer, which has no limits).
func NewHandler(r *Resolver, cfg HandlerConfig) *handler.Server {
	srv := handler.New(pagedComplexity{graph.NewExecutableSchema(graph.Config{Resolvers: r, Schema: PublicSchema()})})
	if cfg.Sockets != nil {
		srv.AddTransport(cfg.Sockets.transport())
	}
	srv.AddTransport(transport.Options{})
	srv.AddTransport(codedGET{})
	srv.AddTransport(decodedPOST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(cfg.MaxTokens)
	srv.SetErrorPresenter(timeouts(ErrorPresenter(cfg.Logger)))
	srv.SetRecoverFunc(Recover(cfg.Logger))
	// First of the checks on the operation: the others (depth, complexity,
	// introspection) walk its fragments once per spread.
	srv.Use(expansionLimit{})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
		srv.Use(introspectionLimit{})
	} else {
		srv.Use(noIntrospection{})
		srv.SetDisableSuggestion(true)
	}
	// Each operation gets its own batch loader of history entries' context,
	// and its record of the users its sign-ins return (ownerOrOperator).
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(withSignedIn(wallet.WithEntryContexts(ctx)))
	})
	srv.AroundOperations(operationDeadline(cfg.OperationTimeout))
	srv.Use(DepthLimit{Max: cfg.MaxDepth})
	srv.Use(&InputRule{})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	if cfg.Metrics != nil {
		srv.Use(metricsExtension{m: cfg.Metrics})
	}
	srv.AroundRootFields(limitMutations(cfg.Mutations, cfg.SignInPhone, cfg.SignInAddress))
	if cfg.Sessions != nil {
		srv.AroundRootFields(requireLiveSession(cfg.Sessions))
	}
	return srv
}

// operationDeadline gives a query or mutation that has no deadline yet (one
// sent over a subscription socket: HTTP requests have theirs) at most d,
// answered REQUEST_TIMEOUT like an HTTP request's. Subscriptions live as
// long as their socket.
func operationDeadline(d time.Duration) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		rc := graphql.GetOperationContext(ctx)
		if _, has := ctx.Deadline(); d <= 0 || has || rc.Operation == nil || rc.Operation.Operation == ast.Subscription {
			return next(ctx)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			defer cancel() // one response: @defer is not offered
			return h(ctx)
		}
	}
}

// sessionFree are the mutations that do not need a live session: signing
// in (any token sent along is irrelevant) and signing out.
var sessionFree = map[string]bool{
	"register": true, "login": true, "refreshToken": true, "logout": true,
	"beginPasskeyLogin": true, "finishPasskeyLogin": true,
}

// requireLiveSession refuses every other mutation field of a caller whose
// access token belongs to an ended session (UNAUTHENTICATED, reason
// SESSION_REVOKED): every mutation that moves money or changes credentials
// is covered, including ones added later. Queries are not checked: they
// rely on the access token's short expiry.
func requireLiveSession(sc SessionChecker) graphql.RootFieldMiddleware {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		rc := graphql.GetOperationContext(ctx)
		if rc.Operation == nil || rc.Operation.Operation != ast.Mutation ||
			sessionFree[graphql.GetRootFieldContext(ctx).Field.Name] {
			return next(ctx)
		}
		if err := sc.CheckSession(ctx); err != nil {
			addRootError(ctx, err)
			return graphql.Null
		}
		return next(ctx)
	}
}

// addRootError adds err for the root field being resolved, with the
// field's response key as its path (a root field middleware runs before
// the field's context exists, so graphql.AddError would give no path, and
// a client could not tell which of several aliases was refused).
func addRootError(ctx context.Context, err error) {
	f := graphql.GetRootFieldContext(ctx).Field
	graphql.AddError(ctx, &gqlerror.Error{Err: err, Message: err.Error(), Path: ast.Path{ast.PathName(f.Alias)}})
}

// timeouts presents an error caused by the request's deadline (see
// DANBAO_REQUEST_TIMEOUT) as REQUEST_TIMEOUT, and one caused by the client
// going away (its connection closed, or a subscription it completed while
// the subscription was starting) as CANCELLED, instead of an internal
// error logged as a failure of the server.
func timeouts(next graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
			e := graphql.DefaultErrorPresenter(ctx, err)
			e.Message = "the request ran out of time"
			e.Extensions = map[string]any{"code": "REQUEST_TIMEOUT"}
			return e
		case errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled):
			e := graphql.DefaultErrorPresenter(ctx, err)
			e.Message = "the request was cancelled by the client"
			e.Extensions = map[string]any{"code": "CANCELLED"}
			return e
		}
		return next(ctx, err)
	}
}

// signInFields are the mutations that sign in. They are counted per phone
// number (when they name one) and per client address whatever token comes
// with them: a signed-in caller gets no fresh budget per throwaway
// account, and one client's other mutations from a shared address do not
// use up everyone's sign-ins.
var signInFields = map[string]bool{
	"register": true, "login": true, "refreshToken": true, "finishPasskeyLogin": true,
}

// limitMutations spends one token of the caller's budget per mutation
// field (aliases included): for sign-in fields one of the phone's and one
// of the address's, for others one of the caller's (the user, or the
// address when signed out). A caller out of tokens gets RATE_LIMITED with
// retryAfterSeconds, and the field is not resolved.
func limitMutations(general, byPhone, byAddress *ratelimit.Limiter) graphql.RootFieldMiddleware {
	return func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		rc := graphql.GetOperationContext(ctx)
		if rc.Operation == nil || rc.Operation.Operation != ast.Mutation {
			return next(ctx)
		}
		field := graphql.GetRootFieldContext(ctx).Field
		ip := ratelimit.AddressKey(obs.ClientIP(ctx))
		var spend []func() (bool, time.Duration)
		if signInFields[field.Name] {
			if phone := phoneArgument(field, rc.Variables); phone != "" {
				spend = append(spend, func() (bool, time.Duration) { return byPhone.Allow("phone:" + phone) })
			}
			spend = append(spend, func() (bool, time.Duration) { return byAddress.Allow("ip:" + ip) })
		} else {
			key := "ip:" + ip
			if who, ok := auth.FromContext(ctx); ok {
				key = "user:" + string(who.UserID)
			}
			spend = append(spend, func() (bool, time.Duration) { return general.Allow(key) })
		}
		for _, allow := range spend {
			if ok, wait := allow(); !ok {
				addRootError(ctx, apperr.New(apperr.RateLimited, "too many requests; slow down").
					With("retryAfterSeconds", int(wait.Seconds())+1))
				return graphql.Null
			}
		}
		return next(ctx)
	}
}

// phoneArgument returns the normalised input.phone of a sign-in field (as
// given, at most 32 bytes, when it is no valid number), or "".
func phoneArgument(f graphql.CollectedField, vars map[string]any) string {
	in, _ := f.ArgumentMap(vars)["input"].(map[string]any)
	raw, _ := in["phone"].(string)
	if raw == "" {
		return ""
	}
	if p, err := auth.NormalizePhone(raw); err == nil {
		return p
	}
	return raw[:min(len(raw), 32)]
}

// DepthLimit refuses operations whose selections nest deeper than Max,
// after parsing and validation and before any resolver runs. Introspection
// fields count too (__type { fields { type { fields ... } } } recurses).
type DepthLimit struct{ Max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = DepthLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (DepthLimit) ExtensionName() string { return "DepthLimit" }

// Validate implements graphql.HandlerExtension.
func (DepthLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (d DepthLimit) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(rc.Operation.SelectionSet, d.Max+1, map[string]bool{}); depth > d.Max {
		err := gqlerror.Errorf("operation is nested deeper than %d levels", d.Max)
		err.Extensions = map[string]any{"code": "DEPTH_LIMIT_EXCEEDED", "maxDepth": d.Max}
		return err
	}
	return nil
}

// selectionDepth returns the depth of set, stopping once it exceeds stop.
// visiting guards against fragment cycles (validation refuses them, but
// the limit must not rely on it).
func selectionDepth(set ast.SelectionSet, stop int, visiting map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1
			if len(s.SelectionSet) > 0 && stop > 1 {
				d += selectionDepth(s.SelectionSet, stop-1, visiting)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, stop, visiting)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}
			visiting[s.Name] = true
			d = selectionDepth(s.Definition.SelectionSet, stop, visiting)
			delete(visiting, s.Name)
		}
		deepest = max(deepest, d)
		if deepest >= stop {
			return deepest
		}
	}
	return deepest
}

// noIntrospection refuses, before execution and with a stable code, any
// operation that selects __schema or __type (__typename is not
// introspection). gqlgen would otherwise fail those fields one by one.
type noIntrospection struct{}

func (noIntrospection) ExtensionName() string                   { return "NoIntrospection" }
func (noIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

func (noIntrospection) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation != nil && selectsIntrospection(rc.Operation.SelectionSet, map[string]bool{}) {
		err := gqlerror.Errorf("introspection is disabled on this server")
		err.Extensions = map[string]any{"code": "INTROSPECTION_DISABLED"}
		return err
	}
	return nil
}

// MaxExpandedFields bounds the fields an operation selects once its
// fragments are expanded (each spread counting its fragment's fields
// again). The depth and complexity checks, gqlgen's included, expand a
// fragment at every spread: fragments that each spread the next two
// took seconds of CPU per level added before either refused (found in
// review). An application's largest operation expands to a few hundred
// fields; GraphiQL's introspection query to about 60.
const MaxExpandedFields = 10000

// expansionLimit refuses, before the other checks and in time linear in
// the operation's text (one count per fragment), an operation expanding
// to more than MaxExpandedFields fields, as COMPLEXITY_LIMIT_EXCEEDED.
type expansionLimit struct{}

func (expansionLimit) ExtensionName() string                   { return "ExpansionLimit" }
func (expansionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (expansionLimit) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if expandedFields(rc.Operation.SelectionSet, map[string]int{}, map[string]bool{}) > MaxExpandedFields {
		err := gqlerror.Errorf("the operation selects more than %d fields once its fragments are expanded", MaxExpandedFields)
		err.Extensions = map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}
		return err
	}
	return nil
}

// expandedFields counts the fields of set with its fragments expanded,
// saturating just past MaxExpandedFields. memo holds each fragment's
// count; visiting guards cycles (validation refuses them, but the limit
// must not rely on it).
func expandedFields(set ast.SelectionSet, memo map[string]int, visiting map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + expandedFields(s.SelectionSet, memo, visiting)
		case *ast.InlineFragment:
			n += expandedFields(s.SelectionSet, memo, visiting)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}
			m, ok := memo[s.Name]
			if !ok {
				visiting[s.Name] = true
				m = expandedFields(s.Definition.SelectionSet, memo, visiting)
				delete(visiting, s.Name)
				memo[s.Name] = m
			}
			n += m
		}
		if n > MaxExpandedFields {
			return MaxExpandedFields + 1
		}
	}
	return n
}

// Introspection's answers are not paged and its lists are not counted by
// the complexity limit: the whole schema's types with their fields is about
// 50 KB. An operation may ask for it once (GraphiQL does), name at most
// MaxTypeLookups types with __type, and select no field twice under other
// aliases anywhere inside them (__typename aside: not introspection);
// otherwise 700 aliases of __schema, or 340 of its types, took most of a
// gigabyte (found in review).
const (
	MaxSchemaLookups = 1
	MaxTypeLookups   = 10
)

// introspectionLimit refuses, before execution, an operation selecting
// __schema under more than MaxSchemaLookups response keys, __type under
// more than MaxTypeLookups, or any field inside them under two response
// keys (aliases, through fragments, and in the selections gqlgen merges
// for fields under one key), as COMPLEXITY_LIMIT_EXCEEDED. It runs after
// expansionLimit, which bounds its walk.
type introspectionLimit struct{}

func (introspectionLimit) ExtensionName() string                   { return "IntrospectionLimit" }
func (introspectionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionLimit) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	keys := responseKeys([]ast.SelectionSet{rc.Operation.SelectionSet})
	aliased := len(keys["__schema"]) > MaxSchemaLookups || len(keys["__type"]) > MaxTypeLookups
	for _, name := range []string{"__schema", "__type"} {
		for _, fields := range keys[name] {
			aliased = aliased || aliasedWithin(subSelections(fields))
		}
	}
	if aliased {
		err := gqlerror.Errorf("an operation may select __schema once, __type at most %d times, and no field twice inside them", MaxTypeLookups)
		err.Extensions = map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}
		return err
	}
	return nil
}

// responseKeys returns the fields of the selection sets gqlgen merges into
// one, by field name and response key (alias), through inline fragments
// and fragment spreads (each fragment walked once: spread again, it adds
// the same fields). __typename is left out.
func responseKeys(sets []ast.SelectionSet) map[string]map[string][]*ast.Field {
	keys := map[string]map[string][]*ast.Field{}
	walked := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Name == "__typename" {
					continue
				}
				if keys[s.Name] == nil {
					keys[s.Name] = map[string][]*ast.Field{}
				}
				keys[s.Name][s.Alias] = append(keys[s.Name][s.Alias], s)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if s.Definition != nil && !walked[s.Name] {
					walked[s.Name] = true
					walk(s.Definition.SelectionSet)
				}
			}
		}
	}
	for _, set := range sets {
		walk(set)
	}
	return keys
}

// subSelections returns the selection sets of fields merged under one
// response key.
func subSelections(fields []*ast.Field) []ast.SelectionSet {
	out := make([]ast.SelectionSet, 0, len(fields))
	for _, f := range fields {
		if len(f.SelectionSet) > 0 {
			out = append(out, f.SelectionSet)
		}
	}
	return out
}

// aliasedWithin reports whether, in the selection sets merged as gqlgen
// runs them, a field is selected under two response keys, there or at any
// depth below.
func aliasedWithin(sets []ast.SelectionSet) bool {
	if len(sets) == 0 {
		return false
	}
	keys := responseKeys(sets)
	for _, byKey := range keys {
		if len(byKey) > 1 {
			return true
		}
	}
	for _, byKey := range keys {
		for _, fields := range byKey {
			if aliasedWithin(subSelections(fields)) {
				return true
			}
		}
	}
	return false
}

func selectsIntrospection(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" || selectsIntrospection(s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if selectsIntrospection(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && !seen[s.Name] {
				seen[s.Name] = true
				if selectsIntrospection(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}

// metricsExtension counts operations, their latency, their top-level errors
// and the userErrors of their mutation payloads, by operation: its type and
// root fields (bounded by the schema, unlike client-chosen operation names).
type metricsExtension struct{ m *obs.Metrics }

var _ interface {
	graphql.ResponseInterceptor
	graphql.OperationContextMutator
} = metricsExtension{}

// MutateOperationContext has a mutation's root fields count the userErrors
// of their payloads. Only mutations are wrapped: a query's fields (a history
// page has hundreds) run without the extra layer a FieldInterceptor would
// put around every one of them.
func (e metricsExtension) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil || rc.Operation.Operation != ast.Mutation {
		return nil
	}
	inner := rc.ResolverMiddleware
	rc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		res, err := inner(ctx, next)
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" {
			if ues := userErrorsOf(res); len(ues) > 0 {
				op := operationLabel(graphql.GetOperationContext(ctx))
				for _, ue := range ues {
					e.m.Errors.WithLabelValues(op, obs.ErrorUserError, string(ue.Code)).Inc()
				}
			}
		}
		return res, err
	}
	return nil
}

// userErrorsOf returns the UserErrors field of a mutation payload (a
// pointer to a generated struct), or nil.
func userErrorsOf(res any) []*model.UserError {
	v := reflect.ValueOf(res)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("UserErrors")
	if !f.IsValid() {
		return nil
	}
	ues, _ := f.Interface().([]*model.UserError)
	return ues
}

func (metricsExtension) ExtensionName() string                   { return "Metrics" }
func (metricsExtension) Validate(graphql.ExecutableSchema) error { return nil }

func (e metricsExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	op := "invalid"
	if graphql.HasOperationContext(ctx) {
		op = operationLabel(graphql.GetOperationContext(ctx))
	}
	e.m.Operations.WithLabelValues(op).Inc()
	e.m.Latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if resp != nil {
		for _, err := range resp.Errors {
			code, _ := err.Extensions["code"].(string)
			if code == "" {
				code = string(apperr.Internal)
			}
			e.m.Errors.WithLabelValues(op, obs.ErrorTopLevel, code).Inc()
		}
	}
	return resp
}

func operationLabel(rc *graphql.OperationContext) string {
	if rc == nil || rc.Operation == nil {
		return "invalid"
	}
	// The root field when every root field selected is the same one
	// (aliases of one field), else "multiple" (none counts as multiple).
	name := ""
	for _, sel := range rc.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			if name == "" {
				name = f.Name
			} else if f.Name != name {
				name = ""
				break
			}
		}
	}
	if name == "" {
		name = "multiple"
	}
	return string(rc.Operation.Operation) + "." + name
}
