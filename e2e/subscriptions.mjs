// A wallet app following its payments with the graphql-ws client, driven
// by TestGraphQLWSClientResumes (internal/app/subscription_e2e_test.go).
//
//   node e2e/subscriptions.mjs WS_URL TOKEN AFTER STOP TOTAL
//
// Two clients subscribe to paymentEvents(after: AFTER). "steady" stays
// connected; "resuming" disposes its client after STOP events, prints
// "resuming disconnected CURSOR", waits for a "resume" line on stdin and
// subscribes again with after: CURSOR (its last cursor). Every event is
// printed as "<client> event <type> <paymentId> <cursor>"; once both have
// TOTAL events the script prints "ok" and exits. Any error exits 1.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createInterface } from 'node:readline';

const [url, token, after, stop, total] = process.argv.slice(2);
const STOP = Number(stop), TOTAL = Number(total);
const query = 'subscription($after: String){ paymentEvents(after: $after){ cursor type occurredAt payment { id } } }';

const fail = (msg) => { console.log('error ' + msg); process.exit(1); };
setTimeout(() => fail('timed out'), 60_000).unref();

const client = () => createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: 'Bearer ' + token },
  retryAttempts: 0,
  lazy: true,
});

const counts = { steady: 0, resuming: 0 };
const done = () => {
  if (counts.steady === TOTAL && counts.resuming === TOTAL) {
    console.log('ok');
    process.exit(0);
  }
};

// follow subscribes c from cursor and calls onEvent for each event.
function follow(c, name, cursor, onEvent) {
  c.subscribe({ query, variables: { after: cursor } }, {
    next: ({ data, errors }) => {
      if (errors) fail(name + ' ' + JSON.stringify(errors));
      const ev = data.paymentEvents;
      if (!ev.cursor) fail(name + ' event without a cursor');
      counts[name]++;
      console.log(`${name} event ${ev.type} ${ev.payment.id} ${ev.cursor}`);
      onEvent(ev);
      done();
    },
    error: (err) => fail(name + ' ' + (err?.code ?? '') + ' ' + (err?.message ?? JSON.stringify(err))),
    complete: () => {},
  });
}

follow(client(), 'steady', after, () => {});

const first = client();
let last = after;
follow(first, 'resuming', after, (ev) => {
  last = ev.cursor;
  if (counts.resuming === STOP) {
    first.dispose();
    console.log('resuming disconnected ' + last);
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() !== 'resume') return;
      rl.close();
      follow(client(), 'resuming', last, () => {});
    });
  }
});
console.log('subscribed');
