// The pages people reach from an email, driven in headless Chromium against
// a real local-api: register → open the confirmation link from the outbox →
// the success page; forgot → open the reset link → a too-short password
// shows the server's field error → a good one succeeds → sign in with it.
// Every page state is saved as a screenshot in tests/browser/screenshots/.
//
// Needs LOCAL_API (the local-api binary) and Chromium at CHROMIUM
// (default /usr/bin/chromium). scripts/test.sh sets both up.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

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
let output = "";
const server = spawn(localApi, ["--port", String(port), "--data-dir", dataDir], {
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, RUST_LOG: "info" },
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
