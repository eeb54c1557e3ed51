// Package webhook delivers events to partners' endpoints in the Standard
// Webhooks format (https://www.standardwebhooks.com): a POST of
// {"type", "timestamp", "data"} with the headers webhook-id (the event id,
// the receiver's de-duplication key), webhook-timestamp (unix seconds) and
// webhook-signature ("v1," + base64 HMAC-SHA256 under the decoded whsec_
// secret over "id.timestamp.body").
//
// Invariants:
//   - The fan-out follows the outbox with its position stored in the
//     "webhook_fanout" counter row, updated in the transaction that writes
//     the deliveries; the row lock makes one instance at a time fan out, and
//     the unique (webhook, event) index makes a delivery exist at most once.
//   - A sender claims a due delivery by a compare-and-set on lease_until
//     (works on SQLite and PostgreSQL): while the lease runs no other
//     sender takes it, so two instances never send one delivery at once.
//     The outcome is written only if the lease is still the sender's.
//   - URLs are https with public addresses; loopback http only in sandbox
//     mode. Private, loopback (outside the sandbox), link-local, multicast
//     and unspecified addresses are refused at registration and again at
//     send time on the address actually dialed (DNS rebinding).
//   - Failed attempts are retried on the schedule (delays between
//     attempts); after the last one the delivery is FAILED until redelivered.
package webhook
