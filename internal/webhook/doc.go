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
//     The position moves to the committed head of the outbox (every event
//     up to it has committed, seq following commit order), past events no
//     partner sees; an idle fan-out (position at the head) opens no
//     transaction.
//   - A sender claims due deliveries in one transaction: on PostgreSQL
//     it selects them FOR UPDATE SKIP LOCKED (concurrent claimers on
//     other instances pass over each other's rows instead of waiting),
//     then sets lease_until by compare-and-set (on SQLite the write
//     transaction serialises claimers and the compare-and-set is the
//     guard). While the lease runs no other sender takes the delivery, so
//     two instances never send one delivery at once; no row lock is held
//     while sending. The outcome is written only if the lease is still
//     the sender's.
//   - URLs are https with public addresses; loopback http only in sandbox
//     mode. Private, loopback (outside the sandbox), link-local, multicast
//     and unspecified addresses are refused at registration and again at
//     send time on the address actually dialed (DNS rebinding).
//   - Failed attempts are retried on the schedule (delays between
//     attempts); after the last one the delivery is FAILED until redelivered.
package webhook
