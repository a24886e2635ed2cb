// For the browser test's sign-in with another provider: a real OpenID
// Provider (the certified `oidc-provider` package, with its development
// login and consent pages) and a small app that starts the sign-in with its
// own PKCE pair and finishes it on its server with the code it gets back.

import { createHash, randomBytes } from "node:crypto";
import http from "node:http";

import Provider from "oidc-provider";

/// An OpenID Provider at `issuer` (listening on `port`) with one
/// confidential client whose only redirect URI is `callback`. Whoever signs
/// in on its login page with a login `x` is the person `x`, whose verified
/// address is `x` itself.
export async function startProvider({ issuer, port, clientId, clientSecret, callback }) {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [callback],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["given_name", "family_name"],
    },
    // The scopes' claims in the ID token too, as Google's, Microsoft's and
    // Apple's ID tokens carry the address.
    conformIdTokenClaims: false,
    async findAccount(_ctx, login) {
      return {
        accountId: login,
        async claims() {
          return {
            sub: `op-${createHash("sha256").update(login).digest("hex").slice(0, 16)}`,
            email: login,
            email_verified: true,
            given_name: "Browser",
            family_name: "Person",
          };
        },
      };
    },
  });
  // Development pages over plain HTTP on localhost.
  provider.proxy = false;
  const server = provider.listen(port);
  await new Promise((resolve) => server.once("listening", resolve));
  return server;
}

/// The app: `GET /start` makes a PKCE pair, keeps the verifier, and sends
/// the browser to Latchkey's authorize; `GET /done` trades the code it gets
/// back (server to server, with the verifier) and shows who signed in, or
/// the `error` it was sent back with.
export async function startApp({ port, api, provider }) {
  const verifiers = new Map();
  const redirectUri = `http://localhost:${port}/done`;
  const page = (title, state, body) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body style="font-family: sans-serif; margin: 2rem"><h1>${title}</h1>` +
    `<p id="result" data-state="${state}">${body}</p></body></html>`;
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url, `http://localhost:${port}`);
    response.setHeader("content-type", "text/html; charset=utf-8");
    if (url.pathname === "/start") {
      const verifier = randomBytes(32).toString("base64url");
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      const state = randomBytes(16).toString("base64url");
      verifiers.set(state, verifier);
      const authorize = new URL(`${api}/v1/auth/oidc/${provider}/authorize`);
      authorize.search = new URLSearchParams({
        redirect_uri: redirectUri,
        code_challenge: challenge,
        code_challenge_method: "S256",
        state,
      }).toString();
      response.writeHead(302, { location: authorize.toString() });
      response.end();
      return;
    }
    if (url.pathname === "/done") {
      const error = url.searchParams.get("error");
      if (error) {
        response.end(page("Not signed in", "error", `error: <code id="error">${error}</code>`));
        return;
      }
      const verifier = verifiers.get(url.searchParams.get("state"));
      verifiers.delete(url.searchParams.get("state"));
      const exchange = await fetch(`${api}/v1/auth/oidc/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: url.searchParams.get("code"), code_verifier: verifier }),
      });
      const pair = await exchange.json();
      if (exchange.status !== 200) {
        response.end(page("Not signed in", "error", `error: <code id="error">${pair.code}</code>`));
        return;
      }
      const claims = JSON.parse(Buffer.from(pair.access_token.split(".")[1], "base64url").toString());
      const me = await (
        await fetch(`${api}/v1/users/me`, { headers: { authorization: `Bearer ${pair.access_token}` } })
      ).json();
      response.end(
        page(
          "Signed in",
          "signed-in",
          `<span id="email">${me.user.email}</span> (<span id="amr">${claims.amr.join(" ")}</span>)`,
        ),
      );
      return;
    }
    response.writeHead(404);
    response.end();
  });
  server.listen(port);
  await new Promise((resolve) => server.once("listening", resolve));
  return { server, redirectUri };
}
