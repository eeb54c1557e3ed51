// Drives danbao's development passkey page (/dev/passkeys) in headless
// Chromium with a DevTools WebAuthn virtual authenticator (CTAP2, internal
// transport, resident keys, user verification): create an account, register
// a passkey through navigator.credentials.create(), sign out, sign in with
// navigator.credentials.get(), list me.passkeys, revoke the passkey and see
// that it no longer signs in.
//
//   node e2e/passkeys.mjs http://localhost:PORT
//
// Chromium is /usr/bin/chromium unless CHROMIUM names another. Prints one
// line per step and exits 0 when every step passed, 1 otherwise.
import { check, launch } from "./browser.mjs";

const base = process.argv[2];
if (!base) {
  console.error("usage: node e2e/passkeys.mjs http://localhost:PORT");
  process.exit(2);
}
const phone = "+86137" + String(Date.now() % 1e8).padStart(8, "0");

const browser = await launch();
let failed = false;
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => console.error("page console:", m.text()));
  page.on("pageerror", (e) => console.error("page error:", e.message));

  // The virtual authenticator stands for the device's platform authenticator.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  await page.goto(base + "/dev/passkeys");
  check(await page.evaluate(() => typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"),
    "the browser has PublicKeyCredential.parseCreationOptionsFromJSON");
  check(await page.evaluate(() => window.isSecureContext), "the page is a secure context");

  // outcome clicks a button and returns what the page records: {ok} or {error}.
  async function outcome(button, name) {
    await page.click("#" + button);
    const handle = await page.waitForFunction((n) => document.body.dataset[n], name, { timeout: 30000 });
    return JSON.parse(await handle.jsonValue());
  }
  async function step(button, name) {
    const o = await outcome(button, name);
    if (o.error) throw new Error(name + ": " + o.error);
    return o.ok;
  }

  await page.fill("#phone", phone);
  const account = await step("create-account", "account");
  console.log("created account " + account.userId);

  await page.fill("#nickname", "Headless Chromium");
  const passkey = await step("add-passkey", "register");
  check(passkey.id && passkey.id.startsWith("psk_"), "a passkey ID");
  check(passkey.nickname === "Headless Chromium", "the nickname");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(credentials.length === 1 && credentials[0].isResidentCredential, "one discoverable credential on the authenticator");
  console.log("registered a passkey " + passkey.id + " (discoverable, sign count " + passkey.signCount + ")");

  await step("sign-out", "signOut");
  const login = await step("login-passkey", "login");
  check(login.userId === account.userId, "signed in as the account's user");
  console.log("signed in with the passkey as " + login.userId);

  const list = await step("list-passkeys", "list");
  check(list.userId === account.userId, "me is the account");
  check(list.totalCount === 1 && list.passkeys.length === 1, "one passkey listed");
  check(list.passkeys[0].id === passkey.id && list.passkeys[0].lastUsedAt, "the registered passkey, used");
  console.log("me.passkeys lists " + list.passkeys[0].id + " (sign count " + list.passkeys[0].signCount + ")");

  // The authenticator's own counter matches what the server stored.
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  check(after.credentials[0].signCount === list.passkeys[0].signCount, "the server's sign count follows the authenticator's");

  const revoked = await step("revoke-passkey", "revoke");
  check(revoked.id === passkey.id && revoked.revokedAt, "the passkey is revoked");
  const relist = await step("list-passkeys", "list");
  check(relist.totalCount === 0, "me.passkeys no longer lists it");
  console.log("revoked " + revoked.id);
  await step("sign-out", "signOut");
  const refused = await outcome("login-passkey", "login");
  check(refused.error && refused.error.includes("PASSKEY_REVOKED"), "sign-in with the revoked passkey refused with PASSKEY_REVOKED, got " + JSON.stringify(refused));
  console.log("the revoked passkey no longer signs in (PASSKEY_REVOKED)");
  console.log("ok: passkey registration, sign-in and revocation in Chromium");
} catch (e) {
  failed = true;
  console.error("FAILED: " + (e && e.stack || e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
