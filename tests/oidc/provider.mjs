// A real OpenID provider for the Coffee Rounds sign-in tests: the npm package oidc-provider with
// its development login and consent pages, which a test drives with plain HTTP posts and the
// browser journey with clicks. Started by .ci/run (and by hand for a run of tests/oidc.rs):
//
//   node tests/oidc/provider.mjs --port 4455     # issuer http://127.0.0.1:4455
//   TEST_OIDC_ISSUER=http://127.0.0.1:4455 cargo test --test oidc
//
// Clients (both confidential, secret "coffee-rounds-test-secret", PKCE required, registered as
// native apps so that a redirect URI on 127.0.0.1 matches at any port, as RFC 8252 asks, and each
// test's app can listen on a port of its own):
//   coffee-rounds                 behaves
//   coffee-rounds-wrong-audience  its ID tokens are re-signed, with the provider's own key, for
//                                 another audience ("another-application"): a token the app must
//                                 refuse although its signature is good
//
// People: the login page takes any password (the development pages do not check passwords); the
// login picks the person and is their subject (sub), which for the named people is not their address:
//   ana            ana.lima@hospital.test, verified
//   una            una.verne@hospital.test, NOT verified (email_verified false)
//   cora           cora.diaz@hospital.test, verified, in the group "coffee-coordinators"
//   olly           olly.ng@elsewhere.example, verified, outside the tests' allowed domains
//   any address    that address, verified; one starting "unverified." is not verified, one starting
//                  "coordinator." is in "coffee-coordinators", one starting "slow." gets
//                  authorization codes that expire after one second
//
// POST /_test/groups?login=LOGIN&groups=a,b changes a person's groups, as a directory
// administrator would (a test of the coordinator claim taken away uses it).
//
// Claims: sub, email and email_verified (scope email), name (scope profile) and groups (scope
// groups). As the specification's default, the code flow's ID token carries only sub and the
// protocol claims; the rest comes from the userinfo endpoint.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const SECRET = 'coffee-rounds-test-secret';
const WRONG_AUDIENCE_CLIENT = 'coffee-rounds-wrong-audience';
const REDIRECT = 'http://127.0.0.1/login/oidc/callback';

const NAMED = {
  ana: { email: 'ana.lima@hospital.test', email_verified: true, name: 'Ana Lima' },
  una: { email: 'una.verne@hospital.test', email_verified: false, name: 'Una Verne' },
  cora: { email: 'cora.diaz@hospital.test', email_verified: true, name: 'Cora Diaz', groups: ['staff', 'coffee-coordinators'] },
  olly: { email: 'olly.ng@elsewhere.example', email_verified: true, name: 'Olly Ng' },
};

/** Group changes made since the start, as a directory administrator makes them (see below). */
const groupChanges = new Map();

/** The person a login names, or undefined. */
function person(login) {
  const found = NAMED[login] ?? generated(login);
  if (found && groupChanges.has(login)) return { ...found, groups: groupChanges.get(login) };
  return found;
}

function generated(login) {
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(login)) return undefined;
  const local = login.split('@')[0].replace(/^(unverified|coordinator|slow)\./, '');
  const name = local.split(/[._-]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
  return {
    email: login,
    email_verified: !login.startsWith('unverified.'),
    name,
    groups: login.startsWith('coordinator.') ? ['staff', 'coffee-coordinators'] : ['staff'],
  };
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(Number(args.port), args.host, resolve));
const issuer = `http://${args.host}:${server.address().port}`;

const client = (clientId) => ({
  client_id: clientId,
  client_secret: SECRET,
  application_type: 'native',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [client('coffee-rounds'), client(WRONG_AUDIENCE_CLIENT)],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  ttl: {
    AuthorizationCode: (ctx, code) => (code.accountId.startsWith('slow.') ? 1 : 60),
  },
  // The login is the account id and the subject: for the named people it is not their address.
  async findAccount(ctx, login) {
    const found = person(login);
    if (!found) return undefined;
    return { accountId: login, claims: async () => ({ sub: login, ...found }) };
  },
  features: { devInteractions: { enabled: true } },
});

// POST /_test/groups?login=LOGIN&groups=a,b sets a person's groups, as an administrator changing
// the directory would (an empty list: no groups). The wrong-audience client's ID tokens are
// re-signed for another audience with the provider's key.
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/_test/groups') {
    groupChanges.set(String(ctx.query.login), String(ctx.query.groups || '').split(',').filter(Boolean));
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token && ctx.oidc?.client?.clientId === WRONG_AUDIENCE_CLIENT) {
    const claims = jose.decodeJwt(ctx.body.id_token);
    ctx.body.id_token = await new jose.SignJWT({ ...claims, aud: 'another-application' })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
      .sign(privateKey);
  }
});

server.on('request', provider.callback());
console.log(`OpenID test provider: issuer ${issuer}`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
