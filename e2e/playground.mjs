// Opens danbao's playground (/playground) in headless Chromium with no
// network beyond loopback: every request the page makes to another host is
// aborted and fails the run. Checks that GraphiQL loads from the server
// alone, that the docs explorer shows the schema (Query and its field me),
// and that `{ me { id } }` run with an access token in the Headers editor
// answers the signed-in user.
//
//   node e2e/playground.mjs http://localhost:PORT
//
// Chromium is /usr/bin/chromium unless CHROMIUM names another. Prints one
// line per step and exits 0 when every step passed, 1 otherwise.
import { check, launch } from "./browser.mjs";

const base = process.argv[2];
if (!base) {
  console.error("usage: node e2e/playground.mjs http://localhost:PORT");
  process.exit(2);
}

// loopback reports whether a URL names this machine (127.0.0.0/8,
// localhost, ::1); data: and blob: URLs never leave the page.
function loopback(url) {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:") return true;
  const h = u.hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

// An account and its access token, made through the API as a client would.
const phone = "+86136" + String(Date.now() % 1e8).padStart(8, "0");
const res = await fetch(base + "/graphql", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    query: "mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } userErrors { code } } }",
    variables: { i: { phone, password: "playground-e2e-password", displayName: "Playground" } },
  }),
});
const reg = (await res.json()).data.register;
check(reg.accessToken && reg.user && reg.user.id, "registered an account: " + JSON.stringify(reg));
console.log("created account " + reg.user.id);

const browser = await launch();
let failed = false;
const outside = [];
try {
  const context = await browser.newContext();
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (loopback(url)) return route.continue();
    outside.push(url);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e.message));
  let local = 0;
  page.on("request", (r) => { if (loopback(r.url())) local++; });

  await page.goto(base + "/playground");
  await page.waitForSelector(".graphiql-container", { timeout: 30000 });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 30000 });
  console.log("GraphiQL loaded from the server (" + local + " loopback requests)");

  // The docs explorer reads the schema by introspection.
  await page.click('button[aria-label="Show Documentation Explorer"]');
  const root = page.locator(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name", { hasText: "Query" }).first();
  await root.waitFor({ timeout: 30000 });
  await root.click();
  await page.locator(".graphiql-doc-explorer a.graphiql-doc-explorer-field-name", { hasText: /^me$/ }).first()
    .waitFor({ timeout: 30000 });
  console.log("docs explorer shows Query.me");

  // The query, and the token in the Headers editor.
  await page.evaluate(() => {
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ me { id } }");
  });
  await page.getByRole("button", { name: "Headers", exact: true }).click();
  await page.waitForSelector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror", { timeout: 30000 });
  await page.evaluate((token) => {
    document.querySelector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
      .CodeMirror.setValue(JSON.stringify({ Authorization: "Bearer " + token }));
  }, reg.accessToken);
  await page.click(".graphiql-execute-button");
  const handle = await page.waitForFunction(() => {
    const v = document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue();
    return v && v.trim().startsWith("{") ? v : null;
  }, null, { timeout: 30000 });
  const result = JSON.parse(await handle.jsonValue());
  check(!result.errors, "no errors: " + JSON.stringify(result.errors));
  check(result.data && result.data.me && result.data.me.id === reg.user.id, "me is the account: " + JSON.stringify(result));
  console.log("{ me { id } } answered " + result.data.me.id);

  check(outside.length === 0, "no request left the machine, blocked: " + outside.join(", "));
  console.log("no request left the machine");
  console.log("ok: offline playground in Chromium");
} catch (e) {
  failed = true;
  console.error("FAILED: " + (e && e.stack || e));
  if (outside.length) console.error("requests beyond loopback: " + outside.join(", "));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
