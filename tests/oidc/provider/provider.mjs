// A real OpenID Connect provider for the sign-in tests: the certified `oidc-provider`, with its development
// login form (any login name signs in; the account must be listed in the accounts file, read afresh each time,
// so a test can change someone's groups or remove them between two sign-ins).
//
//   node provider.mjs PORT CONFIG.json
//
// CONFIG: {"client_id", "client_secret", "redirect_uris": [...], "post_logout_redirect_uris": [...],
//          "accounts_file": "accounts.json"}; accounts.json: {"<login>": {"email", "name", "groups": [...]}}.
//
// For the refusal tests only, POST /__test/tamper {"mode": "signature"|"issuer"|"audience"|"expired"|"nonce"}
// makes the next token response carry an ID token altered that way (re-signed with the provider's own key
// except for "signature"), so the client's verification is what refuses it.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';

const [port, configPath] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
const { privateKey: strangerKey } = await generateKeyPair('RS256');

function accounts() {
  return JSON.parse(readFileSync(config.accounts_file, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris || [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-only-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, name: account.name, groups: account.groups || [] };
      },
    };
  },
});

let tamper = null;
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    tamper = JSON.parse(Buffer.concat(chunks).toString() || '{}').mode || null;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
    const claims = decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    if (tamper === 'issuer') claims.iss = 'http://127.0.0.1:1/not-the-issuer';
    if (tamper === 'audience') claims.aud = 'someone-else';
    if (tamper === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
    if (tamper === 'nonce') claims.nonce = 'not-the-nonce';
    const key = tamper === 'signature' ? strangerKey : privateKey;
    ctx.body = { ...ctx.body, id_token: await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(key) };
    tamper = null;
  }
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
