package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
	"danbao/ent/event"
	"danbao/ent/predicate"
	"danbao/ent/schema/pulid"
	"danbao/ent/webhook"
	"danbao/ent/webhookdelivery"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/page"
	"danbao/internal/vault"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// FanoutCounter is the counter row holding the last event seq fanned out.
const FanoutCounter = "webhook_fanout"

// DefaultSchedule is the delay before each retry: 8 attempts in all, the
// last about 24.6 h after the first.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 10 * time.Hour}

// Config tunes the service.
type Config struct {
	Schedule []time.Duration // delays between attempts (DANBAO_WEBHOOK_RETRY_SCHEDULE)
	Sandbox  bool            // allow loopback http endpoints
	Timeout  time.Duration   // per attempt, default 10s
	Lease    time.Duration   // how long a claim lasts, default 1m (must exceed Timeout)
	Poll     time.Duration   // how often due deliveries are looked for, default 1s
	// Gap is the least time between two steps woken by commits, default
	// 100ms: under load every commit wakes the loop, and a step costs a
	// few statements even when no event is a partner's; commits within the
	// gap are fanned out together by the next step.
	Gap time.Duration
	// Workers is how many sends one instance has under way at once,
	// default 16 (each mostly waits on the network); one webhook takes at
	// most a quarter of them (PerWebhook).
	Workers  int
	Resolver *net.Resolver // nil: the system resolver
	// Vault seals signing keys at rest (the identity keyring); nil keeps
	// them in plain text (tests of the sender alone).
	Vault  *vault.Keyring
	Now    func() time.Time
	Logger *slog.Logger
}

// Service registers webhooks and delivers events to them.
type Service struct {
	client *ent.Client
	hub    *events.Hub
	cfg    Config
	http   *http.Client

	// The instance's sends under way. launching is held by one launch at
	// a time, from counting the free workers to counting its sends.
	launching sync.Mutex
	mu        sync.Mutex
	busy      int
	inflight  map[pulid.ID]int // webhook -> sends under way
	freed     chan struct{}    // a send ended (Run claims again)
}

// PerWebhook is how many sends of one webhook an instance has under way
// at most: a quarter of its Workers (at least one), so that endpoints
// that only time out leave the others most of the sender.
func (s *Service) PerWebhook() int { return max(1, s.cfg.Workers/4) }

// New returns the service; hub wakes its loop when events commit.
func New(client *ent.Client, hub *events.Hub, cfg Config) *Service {
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Lease <= cfg.Timeout {
		cfg.Lease = cfg.Timeout + 50*time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Gap <= 0 {
		cfg.Gap = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: dialControl(cfg.Sandbox), Resolver: cfg.Resolver}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second, TLSHandshakeTimeout: cfg.Timeout}
	return &Service{client: client, hub: hub, cfg: cfg, http: &http.Client{
		Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, inflight: map[pulid.ID]int{}, freed: make(chan struct{}, 1)}
}

var eventTypeRE = regexp.MustCompile(`^[a-z][a-z_]*\.(\*|[a-z][a-z_]*)$`)

// Register adds a webhook for the partner and returns it with its secret
// ("whsec_" + base64 of 32 random bytes), shown this once.
// Errors: INVALID_INPUT (the URL, its addresses, the event types),
// LIMIT_EXCEEDED (MaxEnabledWebhooks on already).
func (s *Service) Register(ctx context.Context, partnerID pulid.ID, rawURL string, types []string) (*ent.Webhook, string, error) {
	if len(types) == 0 || len(types) > 20 {
		return nil, "", apperr.New(apperr.InvalidInput, "name 1 to 20 event types").WithField("eventTypes")
	}
	seen := map[string]bool{}
	var clean []string
	for _, t := range types {
		t = strings.TrimSpace(t)
		if !eventTypeRE.MatchString(t) || len(t) > 60 {
			return nil, "", apperr.New(apperr.InvalidInput, "%q is not an event type such as payment.paid or payment.*", t).WithField("eventTypes")
		}
		if !seen[t] {
			seen[t] = true
			clean = append(clean, t)
		}
	}
	if err := CheckURL(ctx, rawURL, s.cfg.Sandbox, s.cfg.Resolver); err != nil {
		return nil, "", err
	}
	id := pulid.New("whk")
	var w *ent.Webhook
	var secret string
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		if err := checkRoom(ctx, tx, partnerID, ""); err != nil {
			return err
		}
		c := tx.Webhook.Create().SetID(id).SetPartnerID(partnerID).SetURL(strings.TrimSpace(rawURL)).SetEventTypes(clean)
		var err error
		if secret, err = s.newKey(c.Mutation(), partnerID, id); err != nil {
			return err
		}
		w, err = c.Save(ctx)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// MaxEnabledWebhooks bounds the webhooks a partner app has on at once:
// every event of its payments is queued once for each of them.
const MaxEnabledWebhooks = 20

// checkRoom refuses one more webhook on for partnerID (except: the one
// being turned on, if it is on already) beyond MaxEnabledWebhooks. It
// first takes the partner app's row lock (PostgreSQL; SQLite has one
// writer), so that two at once cannot both pass. Errors: LIMIT_EXCEEDED.
func checkRoom(ctx context.Context, tx *ent.Tx, partnerID, except pulid.ID) error {
	if _, err := tx.ExecContext(ctx, "UPDATE partner_apps SET name = name WHERE id = $1", string(partnerID)); err != nil {
		return err
	}
	q := tx.Webhook.Query().Where(webhook.PartnerID(partnerID), webhook.Disabled(false))
	if except != "" {
		q = q.Where(webhook.IDNEQ(except))
	}
	n, err := q.Count(ctx)
	if err != nil {
		return err
	}
	if n >= MaxEnabledWebhooks {
		return apperr.New(apperr.LimitExceeded, "a partner app may have at most %d webhooks on: turn one off first (setWebhookEnabled)", MaxEnabledWebhooks).
			With("max", MaxEnabledWebhooks)
	}
	return nil
}

// newKey draws a signing key, stores it on m (sealed when a keyring is
// configured) and returns it as the whsec_ secret.
func (s *Service) newKey(m *ent.WebhookMutation, partnerID, webhookID pulid.ID) (string, error) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if s.cfg.Vault == nil {
		m.SetSecret(key)
	} else {
		sealed, version, err := s.cfg.Vault.Encrypt(key, secretAAD(partnerID, webhookID))
		if err != nil {
			return "", err
		}
		m.SetSecret([]byte{})
		m.SetSecretCiphertext(sealed)
		m.SetKeyVersion(version)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key), nil
}

// secretAAD binds a sealed signing key to its partner and its webhook, so
// that the ciphertext cannot be moved to another row.
func secretAAD(partnerID, webhookID pulid.ID) []byte {
	return []byte("danbao/webhook/v1\x00" + string(partnerID) + "\x00" + string(webhookID) + "\x00secret")
}

// signingKey returns w's signing key, decrypted.
func (s *Service) signingKey(w *ent.Webhook) ([]byte, error) {
	if w.SecretCiphertext == nil || w.KeyVersion == nil {
		return w.Secret, nil // registered before sealing, not reached by SealSecrets yet
	}
	if s.cfg.Vault == nil {
		return nil, fmt.Errorf("webhook %s: the signing key is sealed and no keyring is configured", w.ID)
	}
	key, err := s.cfg.Vault.Decrypt(*w.SecretCiphertext, *w.KeyVersion, secretAAD(w.PartnerID, w.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypting the signing key of webhook %s: %w", w.ID, err)
	}
	return key, nil
}

// SealSecrets encrypts the signing keys still in plain text (webhooks
// registered before migration 0010), clearing the plain text, and
// re-encrypts those sealed under a key version other than the current one
// (after a key rotation). It works in transactions of batch rows, each row
// by compare-and-set on its key version, so several instances may run it
// at once; it returns how many rows it changed. The server runs it at
// start-up.
func (s *Service) SealSecrets(ctx context.Context, batch int) (int, error) {
	if s.cfg.Vault == nil {
		return 0, nil
	}
	if batch < 1 {
		batch = 100
	}
	current := s.cfg.Vault.CurrentVersion()
	return dbtx.Batches(ctx, s.client, func(tx *ent.Tx) (int, error) {
		hooks, err := tx.Webhook.Query().
			Where(webhook.Or(webhook.KeyVersionIsNil(), webhook.KeyVersionNEQ(current))).
			Order(ent.Asc(webhook.FieldID)).Limit(batch).All(ctx)
		if err != nil {
			return 0, err
		}
		done := 0
		for _, w := range hooks {
			key, err := s.signingKey(w)
			if err != nil {
				return 0, err
			}
			sealed, version, err := s.cfg.Vault.Encrypt(key, secretAAD(w.PartnerID, w.ID))
			if err != nil {
				return 0, err
			}
			upd := tx.Webhook.Update().Where(webhook.ID(w.ID))
			if w.KeyVersion == nil {
				upd.Where(webhook.KeyVersionIsNil())
			} else {
				upd.Where(webhook.KeyVersion(*w.KeyVersion))
			}
			n, err := upd.SetSecretCiphertext(sealed).SetKeyVersion(version).SetSecret([]byte{}).Save(ctx)
			if err != nil {
				return 0, err
			}
			done += n
		}
		return done, nil
	})
}

// List returns the partner's webhooks, oldest first.
func (s *Service) List(ctx context.Context, partnerID pulid.ID) ([]*ent.Webhook, error) {
	return s.client.Webhook.Query().Where(webhook.PartnerID(partnerID), webhook.DeletedAtIsNil()).Order(ent.Asc(webhook.FieldCreatedAt)).All(ctx)
}

// DeliveryPage is one page of a webhook's delivery log.
type DeliveryPage struct {
	Deliveries []*ent.WebhookDelivery // newest event first
	HasNext    bool                   // older entries follow
}

// Deliveries returns a page of a webhook's delivery log, newest event
// first, of status when not nil: first entries (package page's rule)
// after the delivery after, by keyset pagination on event_seq (unique
// within one webhook: a delivery per webhook and event). Errors:
// INVALID_INPUT ("first"; "after" when it is not one of the webhook's
// deliveries).
func (s *Service) Deliveries(ctx context.Context, webhookID pulid.ID, first *int, after *pulid.ID, status *webhookdelivery.Status) (DeliveryPage, error) {
	n, _, err := page.Bound(first, nil)
	if err != nil {
		return DeliveryPage{}, err
	}
	q := s.client.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(webhookID))
	if after != nil {
		from, err := s.client.WebhookDelivery.Query().Where(webhookdelivery.ID(*after), webhookdelivery.WebhookID(webhookID)).Only(ctx)
		if ent.IsNotFound(err) {
			return DeliveryPage{}, apperr.InvalidArgument("after", "not a cursor of this webhook's deliveries")
		}
		if err != nil {
			return DeliveryPage{}, err
		}
		q.Where(webhookdelivery.EventSeqLT(from.EventSeq))
	}
	if status != nil {
		q.Where(webhookdelivery.StatusEQ(*status))
	}
	rows, err := q.Order(ent.Desc(webhookdelivery.FieldEventSeq)).Limit(*n + 1).All(ctx)
	if err != nil {
		return DeliveryPage{}, err
	}
	if len(rows) > *n {
		return DeliveryPage{Deliveries: rows[:*n], HasNext: true}, nil
	}
	return DeliveryPage{Deliveries: rows}, nil
}

// RotateSecret gives one of the partner's webhooks a new signing key and
// returns the webhook with the new whsec_ secret, shown this once;
// deliveries sent from now on are signed with it alone. Errors: NOT_FOUND.
func (s *Service) RotateSecret(ctx context.Context, partnerID, webhookID pulid.ID) (*ent.Webhook, string, error) {
	var (
		w      *ent.Webhook
		secret string
	)
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		var err error
		w, err = updateOwn(ctx, tx, partnerID, webhookID, func(m *ent.WebhookMutation) (err error) {
			secret, err = s.newKey(m, partnerID, webhookID)
			return err
		})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// SetEnabled turns one of the partner's webhooks on or off. Off, the
// fan-out queues no event for it and claims skip its deliveries, which
// wait and go out once it is on again. Errors: NOT_FOUND, LIMIT_EXCEEDED
// (MaxEnabledWebhooks on already).
func (s *Service) SetEnabled(ctx context.Context, partnerID, webhookID pulid.ID, enabled bool) (*ent.Webhook, error) {
	var w *ent.Webhook
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		if enabled {
			// A webhook that is not the partner's, or deleted, is
			// NOT_FOUND whatever room is left.
			ok, err := tx.Webhook.Query().Where(own(partnerID, webhookID)...).Exist(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return noWebhook()
			}
			if err := checkRoom(ctx, tx, partnerID, webhookID); err != nil {
				return err
			}
		}
		var err error
		w, err = updateOwn(ctx, tx, partnerID, webhookID, func(m *ent.WebhookMutation) error {
			m.SetDisabled(!enabled)
			return nil
		})
		return err
	})
	return w, err
}

// own selects webhookID if it is one of the partner's and not deleted.
func own(partnerID, webhookID pulid.ID) []predicate.Webhook {
	return []predicate.Webhook{webhook.ID(webhookID), webhook.PartnerID(partnerID), webhook.DeletedAtIsNil()}
}

func noWebhook() error { return apperr.New(apperr.NotFound, "no such webhook").WithField("webhookId") }

// updateOwn applies set to one of the partner's webhooks not deleted, by
// one compare-and-set (a deletion committed since any read wins), and
// returns the webhook as it now is. Errors: NOT_FOUND.
func updateOwn(ctx context.Context, tx *ent.Tx, partnerID, webhookID pulid.ID, set func(m *ent.WebhookMutation) error) (*ent.Webhook, error) {
	u := tx.Webhook.Update().Where(own(partnerID, webhookID)...)
	if err := set(u.Mutation()); err != nil {
		return nil, err
	}
	n, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, noWebhook()
	}
	return tx.Webhook.Get(ctx, webhookID)
}

// Redeliver makes one of the partner's deliveries due now (PENDING; one
// more attempt even after the schedule ran out). Errors: NOT_FOUND,
// CONFLICT (an attempt of it is under way: its lease is live).
func (s *Service) Redeliver(ctx context.Context, partnerID, deliveryID pulid.ID) (*ent.WebhookDelivery, error) {
	var out *ent.WebhookDelivery
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		d, err := tx.WebhookDelivery.Get(ctx, deliveryID)
		if err == nil {
			var w *ent.Webhook
			if w, err = tx.Webhook.Get(ctx, d.WebhookID); err == nil && (w.PartnerID != partnerID || w.DeletedAt != nil) {
				err = &ent.NotFoundError{}
			}
		}
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "no such delivery").WithField("deliveryId")
		}
		if err != nil {
			return err
		}
		// A live lease is an attempt under way on some instance. Cleared,
		// another sender would send the same delivery at once and the
		// first attempt's outcome would be lost; kept, that outcome would
		// overwrite this request (the last attempt's FAILED, say). So
		// the partner asks again once it has ended.
		now := s.now()
		n, err := tx.WebhookDelivery.Update().Where(webhookdelivery.ID(d.ID),
			webhookdelivery.Or(webhookdelivery.LeaseUntilIsNil(), webhookdelivery.LeaseUntilLT(now))).
			SetStatus(webhookdelivery.StatusPENDING).SetNextAttemptAt(now).ClearLeaseUntil().Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.WebhookDelivery.Get(ctx, d.ID); ent.IsNotFound(err) { // its webhook deleted and purged since the read
				return apperr.New(apperr.NotFound, "no such delivery").WithField("deliveryId")
			}
			return apperr.New(apperr.Conflict, "an attempt of this delivery is under way; ask again when it has ended").WithField("deliveryId")
		}
		out, err = tx.WebhookDelivery.Get(ctx, d.ID)
		return err
	})
	return out, err
}

// DeleteBatch bounds the deliveries one transaction of Delete or
// PurgeDeleted removes, so that a webhook with a long log does not hold
// SQLite's one writer (or PostgreSQL's locks) for long.
const DeleteBatch = 1000

// Delete deletes one of the partner's webhooks. From its commit on the
// partner no longer sees it, no event is queued for it and none of its
// deliveries is claimed (it is turned off as it goes: an attempt already
// under way may still arrive); it no longer counts towards
// MaxEnabledWebhooks. Its deliveries, then its row, are removed after
// that, DeleteBatch deliveries a transaction; whatever is left when the
// request ends early is removed by PurgeDeleted. Errors: NOT_FOUND.
func (s *Service) Delete(ctx context.Context, partnerID, webhookID pulid.ID) error {
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		// After any fan-out under way (it holds its counter's row lock to
		// its commit, PostgreSQL): one that read the webhook while it was
		// on commits its deliveries first, and purge finds them; the next
		// reads it off. (Found in review: a delivery queued by a fan-out
		// that committed after the purge outlived the webhook's row.)
		if _, err := lockFanout(ctx, tx); err != nil {
			return err
		}
		_, err := updateOwn(ctx, tx, partnerID, webhookID, func(m *ent.WebhookMutation) error {
			m.SetDisabled(true)
			m.SetDeletedAt(s.now())
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	if _, err := s.purge(ctx, webhookID, DeleteBatch); err != nil && ctx.Err() == nil {
		s.cfg.Logger.WarnContext(ctx, "webhooks: removing a deleted webhook's deliveries (the maintenance loop goes on)", "webhook", webhookID, "error", err)
	}
	return nil
}

// PurgeDeleted removes the deliveries, then the rows, of deleted webhooks
// (Delete), batch deliveries a transaction, and returns how many
// deliveries it removed. Safe on several instances.
func (s *Service) PurgeDeleted(ctx context.Context, batch int) (int, error) {
	ids, err := s.client.Webhook.Query().Where(webhook.DeletedAtNotNil()).Limit(100).IDs(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range ids {
		n, err := s.purge(ctx, id, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// purge removes the deleted webhook id's deliveries, batch a transaction,
// then its row; it returns how many deliveries it removed.
func (s *Service) purge(ctx context.Context, id pulid.ID, batch int) (int, error) {
	total := 0
	for {
		var n int
		err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
			ids, err := tx.WebhookDelivery.Query().Where(webhookdelivery.WebhookID(id)).Limit(batch).IDs(ctx)
			if err != nil || len(ids) == 0 {
				n = 0
				return err
			}
			n, err = tx.WebhookDelivery.Delete().Where(webhookdelivery.IDIn(ids...)).Exec(ctx)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 {
			break
		}
	}
	return total, dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		// Only once it has no delivery left: a fan-out that read the
		// webhook before its deletion committed cannot queue one now
		// (it skips disabled webhooks), but one queued meanwhile stays
		// until the next pass.
		_, err := tx.Webhook.Delete().Where(webhook.ID(id), webhook.DeletedAtNotNil(),
			predicate.Webhook(func(s *entsql.Selector) {
				d := entsql.Dialect(s.Dialect()).Table(webhookdelivery.Table)
				s.Where(entsql.Not(entsql.Exists(entsql.Dialect(s.Dialect()).Select(d.C(webhookdelivery.FieldID)).From(d).
					Where(entsql.ColumnsEQ(d.C(webhookdelivery.FieldWebhookID), s.C(webhook.FieldID))))))
			})).Exec(ctx)
		return err
	})
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Fanout writes a delivery for every new partner event and every webhook
// of that partner that wants its type, and advances the stored position;
// it returns how many deliveries it wrote. Safe on several instances.
func (s *Service) Fanout(ctx context.Context) (int, error) {
	// Idle (the position is the head): no transaction, no row lock.
	if pos, err := s.client.Counter.Get(ctx, FanoutCounter); err == nil {
		head, err := events.Head(ctx, s.client)
		if err != nil || head <= pos.Value {
			return 0, err
		}
	} else if !ent.IsNotFound(err) {
		return 0, err
	}
	written := 0
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		written = 0
		c, err := lockFanout(ctx, tx)
		if err != nil {
			return err
		}
		// Every event up to the committed head has committed (seq follows
		// commit order), so the position may move to the head even when
		// none of the events up to it is a partner's: the next read starts
		// there instead of scanning those events again.
		head, err := events.Head(ctx, tx.Client())
		if err != nil || head <= c.Value {
			return err
		}
		rows, err := tx.Event.Query().Where(event.SeqGT(c.Value), event.SeqLTE(head), event.PartnerIDNEQ("")).
			Order(ent.Asc(event.FieldSeq)).Limit(events.MaxRead).All(ctx)
		if err != nil {
			return err
		}
		hooks := map[pulid.ID][]*ent.Webhook{}
		for _, e := range rows {
			ws, ok := hooks[e.PartnerID]
			if !ok {
				if ws, err = tx.Webhook.Query().Where(webhook.PartnerID(e.PartnerID), webhook.Disabled(false)).All(ctx); err != nil {
					return err
				}
				hooks[e.PartnerID] = ws
			}
			for _, w := range ws {
				if !wants(w.EventTypes, e.Type) {
					continue
				}
				if err := tx.WebhookDelivery.Create().SetWebhookID(w.ID).SetEventID(e.ID).SetEventSeq(e.Seq).
					SetEventType(e.Type).SetNextAttemptAt(s.now()).
					OnConflictColumns(webhookdelivery.FieldWebhookID, webhookdelivery.FieldEventID).Ignore().Exec(ctx); err != nil {
					return err
				}
				written++
			}
		}
		upTo := head
		if len(rows) == events.MaxRead {
			upTo = rows[len(rows)-1].Seq
		}
		return tx.Counter.UpdateOneID(FanoutCounter).SetValue(upTo).Exec(ctx)
	})
	return written, err
}

// lockFanout takes the fan-out counter's row lock (PostgreSQL; SQLite has
// one writer) until tx ends, creating the row on first use, and returns
// the row: the fan-out's position.
func lockFanout(ctx context.Context, tx *ent.Tx) (*ent.Counter, error) {
	if err := tx.Counter.Create().SetID(FanoutCounter).SetValue(0).
		OnConflictColumns(counter.FieldID).Ignore().Exec(ctx); err != nil {
		return nil, err
	}
	return tx.Counter.UpdateOneID(FanoutCounter).AddValue(0).Save(ctx)
}

func wants(types []string, t string) bool {
	for _, w := range types {
		if w == t || (strings.HasSuffix(w, ".*") && strings.HasPrefix(t, strings.TrimSuffix(w, "*"))) {
			return true
		}
	}
	return false
}

// claim takes up to n due deliveries and returns them with the lease each
// holds: first of webhooks with no send under way on this instance, then
// of the others, at most PerWebhook under way for any one webhook. A
// worker set free therefore goes to a webhook that waits before one that
// is already sending (slowly, or into a timeout), whatever their backlogs.
func (s *Service) claim(ctx context.Context, n int) ([]*ent.WebhookDelivery, error) {
	s.mu.Lock()
	var busy, full []pulid.ID
	taken := map[pulid.ID]int{}
	for id, k := range s.inflight {
		busy = append(busy, id)
		if k >= s.PerWebhook() {
			full = append(full, id)
		}
		taken[id] = k
	}
	s.mu.Unlock()
	mine, err := s.claimOf(ctx, n, busy, taken)
	if err != nil || len(mine) >= n || len(busy) == len(full) {
		return mine, err
	}
	more, err := s.claimOf(ctx, n-len(mine), full, taken)
	return append(mine, more...), err
}

// claimOf takes up to n due deliveries of webhooks not in skip, in one
// transaction: it selects the due rows and sets lease_until by
// compare-and-set, adding to taken (under way per webhook) up to
// PerWebhook. On PostgreSQL the select locks the rows FOR UPDATE SKIP
// LOCKED, so concurrent senders on other instances pass over each other's
// rows instead of waiting or colliding; on SQLite the write transaction
// (BEGIN IMMEDIATE) serialises claimers. After commit the lease, not a
// row lock, keeps the delivery this sender's while it sends.
func (s *Service) claimOf(ctx context.Context, n int, skip []pulid.ID, taken map[pulid.ID]int) ([]*ent.WebhookDelivery, error) {
	dueAt := func(now time.Time) predicate.WebhookDelivery {
		return webhookdelivery.And(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING),
			notIn(skip),
			webhookdelivery.NextAttemptAtLTE(now),
			webhookdelivery.Or(webhookdelivery.LeaseUntilIsNil(), webhookdelivery.LeaseUntilLT(now)),
			// A turned-off webhook's deliveries are not due (SetEnabled).
			predicate.WebhookDelivery(func(s *entsql.Selector) {
				t := entsql.Dialect(s.Dialect()).Table(webhook.Table)
				s.Where(entsql.NotIn(s.C(webhookdelivery.FieldWebhookID),
					entsql.Dialect(s.Dialect()).Select(t.C(webhook.FieldID)).From(t).Where(entsql.EQ(t.C(webhook.FieldDisabled), true))))
			}))
	}
	// Most polls find nothing due: look first without a transaction, so
	// an idle sender does not take SQLite's write lock every poll.
	if found, err := s.client.WebhookDelivery.Query().Where(dueAt(s.now())).Exist(ctx); err != nil || !found {
		return nil, err
	}
	var mine []*ent.WebhookDelivery
	before := maps.Clone(taken)
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		mine = mine[:0]
		maps.Copy(taken, before) // a retried transaction starts again
		for id := range taken {
			if _, ok := before[id]; !ok {
				delete(taken, id)
			}
		}
		now := s.now()
		due, err := tx.WebhookDelivery.Query().Where(dueAt(now)).
			Limit(n).Unique(false).
			Modify(func(sel *entsql.Selector) {
				// Round robin over webhooks: every webhook's oldest due
				// delivery first, then every webhook's second, and so on.
				// Ordered by due time alone, one endpoint's backlog filled
				// every claim while it lasted, and an endpoint that does
				// not answer (each attempt waiting for the timeout) held
				// back every other partner's deliveries for backlog x
				// timeout / workers.
				b := entsql.Dialect(sel.Dialect())
				due := b.Select(webhookdelivery.FieldID).
					AppendSelectExprAs(entsql.Expr("ROW_NUMBER() OVER (PARTITION BY "+webhookdelivery.FieldWebhookID+
						" ORDER BY "+webhookdelivery.FieldNextAttemptAt+", "+webhookdelivery.FieldID+")"), "turn").
					From(entsql.Table(webhookdelivery.Table))
				dueAt(now)(due) // the same rows the outer query re-checks under its locks
				due = due.As("due")
				sel.Join(due).On(sel.C(webhookdelivery.FieldID), due.C(webhookdelivery.FieldID))
				sel.OrderExpr(entsql.Expr(due.C("turn"))).
					OrderBy(sel.C(webhookdelivery.FieldNextAttemptAt), sel.C(webhookdelivery.FieldID))
				if sel.Dialect() == dialect.Postgres {
					sel.ForUpdate(entsql.WithLockAction(entsql.SkipLocked), entsql.WithLockTables(sel.TableName()))
				}
			}).All(ctx)
		if err != nil {
			return err
		}
		lease := now.Add(s.cfg.Lease)
		// At most PerWebhook of one webhook under way, counting those
		// already sending: an endpoint that only times out holds at most
		// a quarter of the workers.
		for _, d := range due {
			if taken[d.WebhookID] >= s.PerWebhook() {
				continue
			}
			k, err := tx.WebhookDelivery.Update().Where(webhookdelivery.ID(d.ID),
				webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING),
				webhookdelivery.Or(webhookdelivery.LeaseUntilIsNil(), webhookdelivery.LeaseUntilLT(now))).
				SetLeaseUntil(lease).Save(ctx)
			if err != nil {
				return err
			}
			if k == 1 {
				taken[d.WebhookID]++
				d.LeaseUntil = &lease
				mine = append(mine, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mine, nil
}

// Sign returns the webhook-signature value for a message: "v1," + base64
// HMAC-SHA256 under key over "id.timestamp.body".
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, timestamp)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// send makes one attempt of d and records its outcome if d's lease is
// still this sender's.
func (s *Service) send(ctx context.Context, d *ent.WebhookDelivery) error {
	w, err := s.client.Webhook.Get(ctx, d.WebhookID)
	if ent.IsNotFound(err) { // deleted since the claim: its delivery goes too
		return dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
			_, err := tx.WebhookDelivery.Delete().Where(webhookdelivery.ID(d.ID)).Exec(ctx)
			return err
		})
	}
	if err != nil {
		return err
	}
	if w.Disabled { // turned off (or deleted) since the claim: it waits, unsent
		return s.client.WebhookDelivery.Update().Where(webhookdelivery.ID(d.ID), webhookdelivery.LeaseUntilEQ(*d.LeaseUntil)).
			ClearLeaseUntil().Exec(ctx)
	}
	e, err := s.client.Event.Get(ctx, d.EventID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"type": e.Type, "timestamp": e.CreatedAt.UTC().Format(time.RFC3339Nano), "data": e.Payload})
	if err != nil {
		return err
	}
	key, err := s.signingKey(w)
	if err != nil {
		return err
	}
	start := s.cfg.Now()
	ts := start.Unix()
	var code *int
	var errText string
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "danbao-webhooks/1")
		req.Header.Set("webhook-id", string(e.ID))
		req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("webhook-signature", Sign(key, string(e.ID), ts, body))
		var resp *http.Response
		if resp, err = s.http.Do(req); err == nil {
			c := resp.StatusCode
			code = &c
			_, _ = drain(resp)
		}
	}
	if err != nil {
		errText = attemptError(err)
	}
	latency := int(time.Since(start).Milliseconds())
	now := s.now()
	u := s.client.WebhookDelivery.Update().Where(webhookdelivery.ID(d.ID), webhookdelivery.LeaseUntilEQ(*d.LeaseUntil)).
		AddAttempts(1).SetLastLatencyMs(latency).SetLastAttemptAt(now).SetLastError(errText).ClearLeaseUntil()
	if code != nil {
		u.SetLastStatusCode(*code)
	} else {
		u.ClearLastStatusCode()
	}
	attempt := d.Attempts + 1
	switch {
	case code != nil && *code >= 200 && *code < 300:
		u.SetStatus(webhookdelivery.StatusSUCCEEDED).ClearNextAttemptAt()
	case attempt <= len(s.cfg.Schedule):
		u.SetNextAttemptAt(now.Add(s.cfg.Schedule[attempt-1]))
	default:
		u.SetStatus(webhookdelivery.StatusFAILED).ClearNextAttemptAt()
	}
	_, err = u.Save(ctx)
	return err
}

// Run fans out and sends until ctx ends: woken by committed events (at
// most once per Gap), by a send that ended (a free worker claims again at
// once: no send waits for another's slow endpoint) and every Poll. When ctx
// ends it waits for the sends under way, which end with it (their leases
// run out and another attempt takes them up).
func (s *Service) Run(ctx context.Context) {
	var wake <-chan struct{}
	if s.hub != nil {
		w := s.hub.Subscribe()
		defer s.hub.Unsubscribe(w)
		wake = w.C
	}
	var sends sync.WaitGroup
	defer sends.Wait()
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		started := time.Now()
		n, err := s.launch(ctx, &sends, nil)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "webhooks: delivery step failed", "error", err)
		}
		if n > 0 && err == nil && ctx.Err() == nil {
			continue // more may be due, and workers free
		}
		select {
		case <-ctx.Done():
			return
		case <-s.freed:
		case <-wake:
			// Commits keep coming under load: let those of the rest of
			// the gap join this wake-up's step.
			if rest := s.cfg.Gap - time.Since(started); rest > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(rest):
				}
			}
		case <-t.C:
		}
	}
}

// Step fans out new events, then claims the due deliveries its free
// workers can take and waits for their sends.
func (s *Service) Step(ctx context.Context) error {
	var sends sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	_, err := s.launch(ctx, &sends, func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	sends.Wait()
	return errors.Join(append([]error{err}, errs...)...)
}

// launch fans out, claims as many due deliveries as the instance has free
// workers and starts their sends, each in a goroutine of sends; a send's
// error goes to report (logged when nil). It returns how many it started
// (those claimed before a claim's error too).
func (s *Service) launch(ctx context.Context, sends *sync.WaitGroup, report func(error)) (int, error) {
	if _, err := s.Fanout(ctx); err != nil {
		return 0, fmt.Errorf("fan-out: %w", err)
	}
	s.launching.Lock()
	defer s.launching.Unlock()
	s.mu.Lock()
	free := s.cfg.Workers - s.busy
	s.mu.Unlock()
	if free <= 0 {
		return 0, nil
	}
	due, err := s.claim(ctx, free)
	if err != nil {
		// What was claimed before the error is sent all the same.
		err = fmt.Errorf("claim: %w", err)
	}
	for _, d := range due {
		s.mu.Lock()
		s.busy++
		s.inflight[d.WebhookID]++
		s.mu.Unlock()
		sends.Add(1)
		go func() {
			defer sends.Done()
			err := s.send(ctx, d)
			s.mu.Lock()
			s.busy--
			if s.inflight[d.WebhookID]--; s.inflight[d.WebhookID] <= 0 {
				delete(s.inflight, d.WebhookID)
			}
			s.mu.Unlock()
			select {
			case s.freed <- struct{}{}:
			default:
			}
			switch {
			case err == nil:
			case report != nil:
				report(err)
			case ctx.Err() == nil:
				s.cfg.Logger.WarnContext(ctx, "webhooks: delivery failed", "delivery", d.ID, "error", err)
			}
		}()
	}
	return len(due), err
}

// notIn is "webhook_id NOT IN ids", or no condition for none.
func notIn(ids []pulid.ID) predicate.WebhookDelivery {
	if len(ids) == 0 {
		return func(*entsql.Selector) {}
	}
	return webhookdelivery.WebhookIDNotIn(ids...)
}

// drain reads a little of the response (so the connection can
// be reused) and closes it; the body is not recorded.
func drain(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
}
