// The pages people reach from an email, driven in headless Chromium against
// a real local-api: register → open the confirmation link from the outbox →
// the success page; forgot → open the reset link → a too-short password
// shows the server's field error → a good one succeeds → sign in with it;
// a sign-in code through the page its email links to; on the passkeys page,
// with Chromium's virtual authenticator (DevTools WebAuthn domain: internal
// transport, resident keys, user verification), sign in with the password,
// add a passkey, sign out, and sign in with the passkey; a change of email
// confirmed on the page its link opens; a sign-in with another provider: a
// real OpenID Provider (`oidc-provider`) with its login and consent pages,
// and an app that starts the sign-in with its own PKCE pair and trades the
// code it gets back; the same answer from the provider replayed is refused.
// Every page state is saved as a screenshot in tests/browser/screenshots/.
//
// Needs LOCAL_API (the local-api binary) and Chromium at CHROMIUM
// (default /usr/bin/chromium). scripts/test.sh sets both up.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { startApp, startProvider } from "./identity-provider.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const screenshots = path.join(here, "screenshots");
const localApi = process.env.LOCAL_API;
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const password = "correct horse battery staple";
const newPassword = "a brand new battery staple";

function fail(message) {
  console.error(`browser test: ${message}`);
  process.exit(1);
}

if (!localApi || !existsSync(localApi)) {
  fail(`set LOCAL_API to the local-api binary (got ${localApi ?? "nothing"}); scripts/test.sh builds it`);
}
if (!existsSync(chromiumPath)) {
  fail(`no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForStatus(base, log) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${base}/status`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`local-api did not answer within 30 s; its output:\n${log()}`);
}

/// The decoded text/plain part of an .eml file (7bit, quoted-printable or base64).
function plainText(eml) {
  const parts = eml.split(/\r?\n--[^\r\n]+\r?\n/);
  for (const part of parts) {
    const split = part.search(/\r?\n\r?\n/);
    const headers = part.slice(0, split);
    if (!/content-type:\s*text\/plain/i.test(headers)) continue;
    const body = part.slice(split).trim();
    const encoding = /content-transfer-encoding:\s*([\w-]+)/i.exec(headers)?.[1]?.toLowerCase();
    if (encoding === "base64") return Buffer.from(body, "base64").toString("utf8");
    if (encoding === "quoted-printable") {
      const bytes = body
        .replace(/=\r?\n/g, "")
        .replace(/=([0-9A-F]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
      return Buffer.from(bytes, "latin1").toString("utf8");
    }
    return body;
  }
  throw new Error("no text/plain part");
}

/// The first link containing `marker` in the newest email to `address`.
async function linkFromOutbox(outbox, address, marker) {
  const files = (await readdir(outbox)).filter((name) => name.endsWith(".eml")).sort().reverse();
  for (const file of files) {
    const eml = await readFile(path.join(outbox, file), "utf8");
    if (!new RegExp(`^To: .*${address.replace(/[.+]/g, "\\$&")}`, "mi").test(eml)) continue;
    const text = plainText(eml);
    const link = text.split(/\s+/).find((word) => word.startsWith("http") && word.includes(marker));
    if (link) return link;
  }
  throw new Error(`no email with ${marker} to ${address} in ${outbox}`);
}

async function postJson(base, route, body) {
  const response = await fetch(`${base}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
  console.log(`  screenshot ${name}.png`);
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dataDir = await mkdtemp(path.join(os.tmpdir(), "latchkey-browser-"));
const outbox = path.join(dataDir, "outbox");
// The OpenID Provider and the app of the provider sign-in.
const providerPort = await freePort();
const appPort = await freePort();
const providerIssuer = `http://localhost:${providerPort}`;
const clientSecretArn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:browser-op";
const clientSecret = `secret-${Date.now()}`;
// secrets.json stands in for Secrets Manager in local mode.
await writeFile(path.join(dataDir, "secrets.json"), JSON.stringify({ [clientSecretArn]: clientSecret }));
const appReturn = `http://localhost:${appPort}/done`;
let output = "";
const server = spawn(localApi, ["--port", String(port), "--data-dir", dataDir], {
  stdio: ["ignore", "pipe", "pipe"],
  env: {
    ...process.env,
    RUST_LOG: "info",
    OIDC_PROVIDERS: JSON.stringify([
      { id: "op", issuer: providerIssuer, client_id: "latchkey-browser", client_secret_arn: clientSecretArn },
    ]),
    OIDC_REDIRECT_ALLOWLIST: appReturn,
  },
});
server.stdout.on("data", (chunk) => (output += chunk));
server.stderr.on("data", (chunk) => (output += chunk));
server.on("exit", (code) => {
  if (code !== null && code !== 0) fail(`local-api exited with ${code}:\n${output}`);
});

let browser;
try {
  await waitForStatus(base, () => output);
  await rm(screenshots, { recursive: true, force: true });
  await mkdir(screenshots, { recursive: true });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // What Chromium needs here: no sandbox as root, and no background
    // connections to a network that is closed.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({ locale: "en-US" });
  const email = `browser.${Date.now()}@example.com`;

  console.log("register, then open the confirmation link");
  const registered = await postJson(base, "/v1/users", { email, password, locale: "en" });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const confirmation = await linkFromOutbox(outbox, email, "/v1/users/confirm/");
  await page.goto(confirmation);
  assert.match(page.url(), /\/pages\/confirmation\?confirmed=true&lang=en$/);
  assert.equal(await page.locator("#result").getAttribute("data-state"), "confirmed");
  await shot(page, "confirmation-success");

  await page.goto(confirmation);
  assert.equal(await page.locator("#result").getAttribute("data-state"), "already");
  await shot(page, "confirmation-already");

  await page.goto(`${base}/v1/users/confirm/${"x".repeat(43)}`);
  assert.equal(await page.locator("#result").getAttribute("data-state"), "invalid");
  await shot(page, "confirmation-invalid");
  await page.fill("#email", email);
  await page.click("button[type=submit]");
  assert.equal(await page.locator("#result").getAttribute("data-state"), "sent");
  await shot(page, "confirmation-resend-sent");

  console.log("forgot, then open the reset link");
  const forgot = await postJson(base, "/v1/password/forgot", { email });
  assert.equal(forgot.status, 202);
  const reset = await linkFromOutbox(outbox, email, "#token=");
  await page.goto(reset);
  // The script took the code out of the address bar and into the form.
  assert.ok(!page.url().includes("#"), page.url());
  assert.ok(await page.locator("#token-field").isHidden());
  assert.equal(await page.inputValue("#token"), reset.split("#token=")[1]);
  await shot(page, "reset-form");

  console.log("a too-short password shows the server's field error");
  await page.fill("#password", "short");
  await page.fill("#password_confirmation", "short");
  await page.click("button[type=submit]");
  const error = page.locator("#password-error");
  await error.waitFor();
  assert.match(await error.innerText(), /8/);
  await shot(page, "reset-too-short");

  console.log("a good password changes it");
  await page.fill("#password", newPassword);
  await page.fill("#password_confirmation", newPassword);
  await page.click("button[type=submit]");
  assert.equal(await page.locator("#result").getAttribute("data-state"), "done");
  await shot(page, "reset-done");

  const login = await postJson(base, "/v1/auth/login", { login: email, password: newPassword });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const old = await postJson(base, "/v1/auth/login", { login: email, password });
  assert.equal(old.status, 401);

  console.log("a sign-in code by email, through the page its link opens");
  const asked = await postJson(base, "/v1/auth/email-code", { email });
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  const signInLink = await linkFromOutbox(outbox, email, "/pages/email-sign-in");
  const code = /[#&]code=(\d{6})/.exec(signInLink)[1];
  await page.goto(signInLink);
  // The script filled the form from the fragment and took the fragment out
  // of the address bar; showing the page spent nothing.
  assert.ok(!page.url().includes("#"), page.url());
  assert.equal(await page.inputValue("#email"), email);
  assert.equal(await page.inputValue("#code"), code);
  await shot(page, "email-sign-in-form");
  await page.fill("#code", code === "000000" ? "000001" : "000000");
  await page.click("button[type=submit]");
  const failure = page.locator("#failure");
  await failure.waitFor();
  assert.equal(await failure.getAttribute("data-code"), "invalid_code");
  await shot(page, "email-sign-in-wrong-code");
  await page.fill("#code", code);
  await page.click("button[type=submit]");
  await page.locator("#result").waitFor();
  assert.equal(await page.locator("#result").getAttribute("data-state"), "signed-in");
  const stored = JSON.parse(await page.evaluate(() => window.sessionStorage.getItem("latchkey.token_pair")));
  const me = await fetch(`${base}/v1/users/me`, {
    headers: { authorization: `Bearer ${stored.access_token}` },
  });
  assert.equal(me.status, 200);
  await shot(page, "email-sign-in-done");

  console.log("passkeys: add one after a password sign-in, sign out, sign in with it");
  // Passkeys are bound to `localhost` (browsers refuse an IP address as
  // the relying party), and local-api accepts its localhost origin.
  const passkeysPage = await browser.newPage({ locale: "en-US" });
  const cdp = await passkeysPage.context().newCDPSession(passkeysPage);
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
  const local = `http://localhost:${port}`;
  await passkeysPage.goto(`${local}/pages/passkeys`);
  assert.ok(await passkeysPage.locator("#signed-out").isVisible());
  await shot(passkeysPage, "passkeys-signed-out");
  await passkeysPage.fill("#login", email);
  await passkeysPage.fill("#password", newPassword);
  await passkeysPage.click("#password-sign-in-form button[type=submit]");
  await passkeysPage.locator("#signed-in").waitFor();
  assert.equal(await passkeysPage.locator("#result").getAttribute("data-state"), "password");
  await passkeysPage.locator("#passkeys-empty").waitFor();
  await passkeysPage.fill("#passkey-name", "Browser test key");
  await passkeysPage.click("#add-passkey");
  await passkeysPage.locator("#added").waitFor();
  await passkeysPage.locator("#passkey-list li").first().waitFor();
  assert.equal(await passkeysPage.locator("#passkey-list li").innerText(), "Browser test key");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true);
  assert.equal(credentials[0].rpId, "localhost");
  await shot(passkeysPage, "passkeys-added");
  await passkeysPage.click("#sign-out");
  await passkeysPage.locator("#signed-out").waitFor();
  assert.equal(await passkeysPage.evaluate(() => window.sessionStorage.getItem("latchkey.token_pair")), null);
  await passkeysPage.click("#passkey-sign-in");
  await passkeysPage.locator("#signed-in").waitFor();
  assert.equal(await passkeysPage.locator("#result").getAttribute("data-state"), "passkey");
  const byPasskey = JSON.parse(
    await passkeysPage.evaluate(() => window.sessionStorage.getItem("latchkey.token_pair")),
  );
  const claims = JSON.parse(Buffer.from(byPasskey.access_token.split(".")[1], "base64url").toString());
  assert.deepEqual(claims.amr, ["hwk", "mfa"]);
  assert.equal(claims.aal, 2);
  const meByPasskey = await fetch(`${base}/v1/users/me`, {
    headers: { authorization: `Bearer ${byPasskey.access_token}` },
  });
  assert.equal(meByPasskey.status, 200);
  await shot(passkeysPage, "passkeys-signed-in-with-passkey");
  // The page has the same headers as the others: no inline script runs.
  const headers = (await passkeysPage.goto(`${local}/pages/passkeys?lang=ru`)).headers();
  assert.match(headers["content-security-policy"], /script-src 'self'/);
  assert.equal(await passkeysPage.getAttribute("html", "lang"), "ru");
  await shot(passkeysPage, "passkeys-ru");

  console.log("a change of email, confirmed on the page its link opens");
  const signedIn = await postJson(base, "/v1/auth/login", { login: email, password: newPassword });
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  const movedTo = `moved.${Date.now()}@example.com`;
  const askedChange = await fetch(`${base}/v1/users/me/email`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${signedIn.body.access_token}` },
    body: JSON.stringify({ new_email: movedTo }),
  });
  assert.equal(askedChange.status, 202);
  const changeLink = await linkFromOutbox(outbox, movedTo, "/pages/email-change");
  await page.goto(changeLink);
  // The page took the code from the fragment and out of the address bar;
  // showing it changed nothing.
  assert.ok(!page.url().includes("#"), page.url());
  assert.equal((await postJson(base, "/v1/auth/login", { login: email, password: newPassword })).status, 200);
  await shot(page, "email-change-form");
  await page.click("button[type=submit]");
  await page.locator("#result").waitFor();
  assert.equal(await page.locator("#result").getAttribute("data-state"), "changed");
  assert.equal((await postJson(base, "/v1/auth/login", { login: movedTo, password: newPassword })).status, 200);
  await shot(page, "email-change-done");
  // Opened again (from elsewhere: the same page with a new fragment would
  // not load again), the used link is refused.
  await page.goto("about:blank");
  await page.goto(changeLink);
  await page.click("button[type=submit]");
  await page.locator("#failure").waitFor();
  assert.equal(await page.locator("#failure").getAttribute("data-code"), "invalid_confirmation_code");
  await shot(page, "email-change-used");

  console.log("sign-in with another provider: its login and consent pages, back to the app");
  const opServer = await startProvider({
    issuer: providerIssuer,
    port: providerPort,
    clientId: "latchkey-browser",
    clientSecret,
    callback: `${base}/v1/auth/oidc/op/callback`,
  });
  const app = await startApp({ port: appPort, api: base, provider: "op" });
  assert.equal(app.redirectUri, appReturn);
  try {
    const federated = await browser.newPage({ locale: "en-US" });
    let callbackUrl;
    federated.on("request", (request) => {
      if (request.url().startsWith(`${base}/v1/auth/oidc/op/callback`)) callbackUrl = request.url();
    });
    await federated.goto(`http://localhost:${appPort}/start`);
    assert.ok(federated.url().startsWith(`${providerIssuer}/interaction/`), federated.url());
    const personEmail = `op.${Date.now()}@example.com`;
    await federated.fill("input[name=login]", personEmail);
    await federated.fill("input[name=password]", "anything");
    await shot(federated, "provider-login");
    await federated.click("button[type=submit]");
    await federated.locator("input[name=prompt][value=consent]").waitFor({ state: "attached" });
    await shot(federated, "provider-consent");
    await federated.click("button[type=submit]");
    await federated.locator("#result").waitFor();
    assert.ok(federated.url().startsWith(appReturn), federated.url());
    assert.equal(await federated.locator("#result").getAttribute("data-state"), "signed-in");
    assert.equal(await federated.locator("#email").innerText(), personEmail);
    assert.equal(await federated.locator("#amr").innerText(), "fed");
    await shot(federated, "provider-signed-in");

    // The provider's answer again (a replay): the state was spent.
    assert.ok(callbackUrl, "the browser went through the callback");
    await federated.goto(callbackUrl);
    assert.equal(await federated.locator("#result").getAttribute("data-state"), "error");
    assert.equal(await federated.locator("#error").innerText(), "invalid_state");
    await shot(federated, "provider-replayed");

    // Signed in again with the same person: the same account.
    await federated.goto(`http://localhost:${appPort}/start`);
    if (federated.url().startsWith(`${providerIssuer}/interaction/`)) {
      await federated.click("button[type=submit]");
    }
    await federated.locator("#result").waitFor();
    assert.equal(await federated.locator("#email").innerText(), personEmail);
  } finally {
    opServer.close();
    app.server.close();
  }

  console.log("the same form in Russian");
  const russian = await browser.newPage({ locale: "ru-RU" });
  await russian.goto(`${base}/pages/reset-password`);
  assert.equal(await russian.getAttribute("html", "lang"), "ru");
  await shot(russian, "reset-form-ru");

  console.log("browser test passed");
} catch (error) {
  console.error(error);
  console.error(`local-api output:\n${output}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  server.kill();
  await rm(dataDir, { recursive: true, force: true });
}
