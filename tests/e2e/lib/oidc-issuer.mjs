// OpenID Connect issuers for the single sign-on tests.
//
// startOidcIssuer(): a real `oidc-provider` (npm, needs Node 22, so it runs as a child process
// under NODE22_BIN: this file is also its entry point) on http://127.0.0.1:<free port>, with one
// confidential client for holdgate (client_secret_basic, PKCE required) and its development
// login pages (any password; the login name is the account). Accounts and their claims:
//   alice, carol: groups ["hg-reviewers"]   root: ["hg-admins"]   audrey: ["hg-auditors"]
//   mallory: no group (no holdgate role)
// ID tokens carry name, email, email_verified and groups (conformIdTokenClaims off), signed RS256
// with a key generated at start (kid "issuer-key-1").
//
// startFakeIssuer(): an in-process stand-in that follows the protocol (discovery, JWKS,
// authorize that answers at once, token endpoint) but issues whatever ID token the test asks for
// with setMode(): 'ok' | 'forged' (signed by another key under the published kid) | 'expired' |
// 'wrong_aud' | 'wrong_iss' | 'wrong_nonce'. For the refusals a real issuer never produces.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { NODE22_BIN } from './paths.mjs';
import { makeOutputDir, startProcess } from './process.mjs';

const SELF = fileURLToPath(import.meta.url);

export const SSO_USERS = Object.freeze({
  alice: { name: 'Alice Example', groups: ['hg-reviewers'] },
  carol: { name: 'Carol Example', groups: ['hg-reviewers'] },
  root: { name: 'Root Admin', groups: ['hg-admins'] },
  audrey: { name: 'Audrey Auditor', groups: ['hg-auditors'] },
  mallory: { name: 'Mallory', groups: [] },
});

// The review.oidc role_map matching SSO_USERS.
export const SSO_ROLE_MAP = Object.freeze({ 'hg-reviewers': 'reviewer', 'hg-admins': 'admin', 'hg-auditors': 'auditor' });

// Starts the real provider. redirectUris: holdgate's callback URL(s). Returns
// { issuer, clientId, clientSecret, proc, stop() }.
export async function startOidcIssuer({ redirectUris, name = 'oidc-issuer', outDir } = {}) {
  if (!fs.existsSync(NODE22_BIN)) throw new Error(`${NODE22_BIN} missing: oidc-provider needs Node 22 (npm ci in tests/e2e)`);
  const dir = outDir ?? makeOutputDir(name);
  const readyFile = path.join(dir, `${name}.ready.json`);
  fs.rmSync(readyFile, { force: true });
  const clientSecret = `test-secret-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const options = path.join(dir, `${name}.options.json`);
  fs.writeFileSync(options, JSON.stringify({ redirectUris, clientId: 'holdgate', clientSecret, readyFile }));
  const proc = startProcess(name, NODE22_BIN, [SELF, options], { outDir: dir });
  const ready = await proc.waitForJsonFile(readyFile, { timeoutMs: 20000 });
  return { issuer: ready.issuer, clientId: 'holdgate', clientSecret, proc, stop: () => proc.stop() };
}

// ---- the child process: oidc-provider ------------------------------------------------------------

async function runProvider(optionsFile) {
  const { redirectUris, clientId, clientSecret, readyFile } = JSON.parse(fs.readFileSync(optionsFile, 'utf8'));
  const { default: Provider } = await import('oidc-provider');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'issuer-key-1', alg: 'RS256', use: 'sig' };
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [`cookie-key-${clientSecret}`] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      const user = SSO_USERS[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id, name: user.name, preferred_username: id,
            email: `${id}@example.test`, email_verified: true, groups: user.groups,
          };
        },
      };
    },
  });
  server.on('request', provider.callback());
  fs.writeFileSync(`${readyFile}.tmp`, JSON.stringify({ issuer }));
  fs.renameSync(`${readyFile}.tmp`, readyFile);
  process.stdout.write(`oidc-provider listening at ${issuer}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---- the in-process fake issuer ----------------------------------------------------------------

export async function startFakeIssuer({ clientId = 'holdgate', clientSecret = 'fake-secret' } = {}) {
  const good = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: 'fake-key-1', alg: 'RS256', use: 'sig' };
  const codes = new Map();  // code → { nonce, redirectUri, challenge }
  let mode = 'ok';
  let issuer = '';
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    const json = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(200, {
          issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`, code_challenge_methods_supported: ['S256'],
          response_types_supported: ['code'], id_token_signing_alg_values_supported: ['RS256'],
        });
      }
      if (url.pathname === '/jwks') return json(200, { keys: [publicJwk] });
      if (url.pathname === '/authorize') {
        const code = `code-${Math.random().toString(36).slice(2)}`;
        codes.set(code, { nonce: url.searchParams.get('nonce'), sub: url.searchParams.get('login_hint') || 'alice' });
        const back = new URL(url.searchParams.get('redirect_uri'));
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state'));
        res.writeHead(302, { Location: back.href });
        return res.end();
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = new URLSearchParams(body);
        const expected = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        if (req.headers.authorization !== expected) return json(401, { error: 'invalid_client' });
        const grant = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        if (!grant || !form.get('code_verifier')) return json(400, { error: 'invalid_grant' });
        const now = Math.floor(Date.now() / 1000);
        const claims = {
          nonce: mode === 'wrong_nonce' ? 'not-the-nonce' : grant.nonce,
          name: 'Fake User', groups: ['hg-reviewers'],
        };
        const jwt = new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'fake-key-1' })
          .setSubject(grant.sub)
          .setIssuer(mode === 'wrong_iss' ? `${issuer}/other` : issuer)
          .setAudience(mode === 'wrong_aud' ? 'someone-else' : clientId)
          .setIssuedAt(mode === 'expired' ? now - 600 : now)
          .setExpirationTime(mode === 'expired' ? now - 300 : now + 300);
        const idToken = await jwt.sign(mode === 'forged' ? other.privateKey : good.privateKey);
        return json(200, { access_token: 'opaque', token_type: 'Bearer', expires_in: 300, id_token: idToken });
      }
      json(404, { error: 'not_found' });
    } catch (e) {
      json(500, { error: 'server_error', message: String(e?.message ?? e) });
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer, clientId, clientSecret,
    setMode(m) { mode = m; },
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

if (process.argv[1] === SELF) {
  runProvider(process.argv[2]).catch((e) => {
    process.stderr.write(`oidc issuer failed: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
}
