// Authorizes an escrowed payment with a passkey in headless Chromium: a
// DevTools WebAuthn virtual authenticator (CTAP2, internal transport,
// resident keys, user verification) answers the payment-bound challenge of
// createPayment through navigator.credentials.get(), and the money moves
// into escrow. Seller and buyer are created, verified and (the buyer)
// funded through the GraphQL API from the page.
//
//   node e2e/payment.mjs http://localhost:PORT BUYER_ID_NUMBER SELLER_ID_NUMBER
//
// Chromium is /usr/bin/chromium unless CHROMIUM names another. Prints one
// line per step and exits 0 when every step passed, 1 otherwise.
import { chromium } from "playwright-core";

const [base, buyerID, sellerID] = process.argv.slice(2);
if (!base || !buyerID || !sellerID) {
  console.error("usage: node e2e/payment.mjs http://localhost:PORT BUYER_ID_NUMBER SELLER_ID_NUMBER");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const stamp = String(Date.now() % 1e7).padStart(7, "0");

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let failed = false;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });
  await page.goto(base + "/dev/passkeys");

  const lines = await page.evaluate(async ({ buyerID, sellerID, stamp }) => {
    const out = [];
    async function gql(token, query, variables) {
      const headers = { "Content-Type": "application/json" };
      if (token) headers.Authorization = "Bearer " + token;
      const res = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
      const body = await res.json();
      if (body.errors && body.errors.length) throw new Error(JSON.stringify(body.errors));
      const p = Object.values(body.data)[0];
      if (p && p.userErrors && p.userErrors.length) throw new Error(JSON.stringify(p.userErrors));
      return p;
    }
    async function verifiedUser(phone, idNumber) {
      const reg = await gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken user { id } userErrors { code message } } }`,
        { in: { phone, password: "correct horse battery", displayName: "Chromium " + phone.slice(-4) } });
      await gql(reg.accessToken, `mutation($in: SubmitRealNameVerificationInput!) { submitRealNameVerification(input: $in) { verification { status } userErrors { code message } } }`,
        { in: { legalName: "Li Lei", idType: "RESIDENT_ID", idNumber } });
      return { token: reg.accessToken, id: reg.user.id };
    }
    const seller = await verifiedUser("+861360" + stamp, sellerID);
    const buyer = await verifiedUser("+861361" + stamp, buyerID);
    out.push("verified seller " + seller.id + " and buyer " + buyer.id);

    const card = await gql(buyer.token, `mutation { linkBankCard(input: {cardNumber: "4242424242424242", holderName: "LI LEI"}) { bankCard { id } userErrors { code message } } }`);
    await gql(buyer.token, `mutation($in: TopUpInput!) { topUp(input: $in) { topUp { id } userErrors { code message } } }`,
      { in: { bankCardId: card.bankCard.id, amount: "200.00", idempotencyKey: "chromium-topup" } });
    let available = "0.00";
    for (let i = 0; i < 100 && available !== "200.00"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      available = (await gql(buyer.token, `{ me { balances { available } } }`)).balances[0].available;
    }
    out.push("buyer topped up " + available);

    const begin = await gql(buyer.token, `mutation { beginPasskeyRegistration { options userErrors { code message } } }`);
    const created = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begin.options) });
    const pk = await gql(buyer.token, `mutation($in: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $in) { passkey { id } userErrors { code message } } }`,
      { in: { credential: created.toJSON(), nickname: "Chromium payment" } });
    out.push("registered a passkey " + pk.passkey.id);

    const pay = await gql(buyer.token, `mutation($in: CreatePaymentInput!) { createPayment(input: $in) { payment { id status } authorizationOptions userErrors { code message } } }`,
      { in: { payeeId: seller.id, amount: "120.00", description: "a teapot", idempotencyKey: "chromium-pay" } });
    out.push("created payment " + pay.payment.id + " " + pay.payment.status);
    const assertion = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(pay.authorizationOptions) });
    const auth = await gql(buyer.token, `mutation($in: AuthorizePaymentInput!) { authorizePayment(input: $in) { payment { id status heldAmount authorization { evidence } } userErrors { code message } } }`,
      { in: { paymentId: pay.payment.id, credential: assertion.toJSON(), idempotencyKey: "chromium-auth" } });
    const ev = auth.payment.authorization.evidence;
    out.push("authorized payment " + auth.payment.id + " " + auth.payment.status + " held " + auth.payment.heldAmount +
      " userVerified " + ev.userVerified + " factors " + ev.factors);
    // The same assertion cannot authorize again.
    try {
      await gql(buyer.token, `mutation($in: AuthorizePaymentInput!) { authorizePayment(input: $in) { payment { id } userErrors { code message } } }`,
        { in: { paymentId: pay.payment.id, credential: assertion.toJSON(), idempotencyKey: "chromium-auth-2" } });
      out.push("replay accepted");
    } catch (e) {
      out.push("replayed assertion refused " + (String(e).includes("INVALID_STATE") ? "(INVALID_STATE)" : String(e)));
    }
    const bal = (await gql(buyer.token, `{ me { balances { available } } }`)).balances[0].available;
    out.push("buyer available " + bal);
    return out;
  }, { buyerID, sellerID, stamp });
  for (const l of lines) console.log(l);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  console.log("authenticator sign count " + credentials[0].signCount);
  console.log("ok: a payment authorized with a passkey in Chromium");
} catch (e) {
  failed = true;
  console.error("FAILED: " + (e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
