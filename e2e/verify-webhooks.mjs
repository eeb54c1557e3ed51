// Verifies webhook requests with the standardwebhooks library, as a
// partner would; driven by TestPartnerStory (internal/app).
//
//   node e2e/verify-webhooks.mjs FILE
//
// FILE holds {"secret": "whsec_...", "requests": [{"id", "timestamp",
// "signature", "body"}]}. For each request the script prints "verified
// <id> <type>" when the library accepts it, then alters one byte of the
// body's data and prints "tampered rejected <id>" when the library
// refuses that. Anything else exits 1.
import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';

const { secret, requests } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// The library takes the secret without its whsec_ prefix.
const wh = new Webhook(secret.replace(/^whsec_/, ''));
for (const r of requests) {
  const headers = { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature };
  let payload;
  try {
    payload = wh.verify(r.body, headers);
  } catch (err) {
    console.log(`error ${r.id} does not verify: ${err.message}`);
    process.exit(1);
  }
  console.log(`verified ${r.id} ${payload.type}`);
  const tampered = r.body.replace('"data":{', '"data":{"x":1,');
  if (tampered === r.body) {
    console.log('error nothing to tamper with');
    process.exit(1);
  }
  try {
    wh.verify(tampered, headers);
    console.log(`error ${r.id} verifies with a tampered body`);
    process.exit(1);
  } catch {
    console.log(`tampered rejected ${r.id}`);
  }
}
console.log('ok');
