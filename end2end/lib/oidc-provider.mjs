// A real OpenID Connect provider on loopback for the tests: panva's certified `oidc-provider` with
// its development login and consent pages. Discovery, PKCE, state, nonce, signed id_tokens, JWKS
// and userinfo behave as in production.
//
//   node end2end/lib/oidc-provider.mjs PORT REDIRECT_URI [REDIRECT_URI ...]
//
// Client: onwatch / onwatch-secret (client_secret_basic), PKCE required. Any login is accepted
// with any password; these logins have groups (the `groups` claim, scope `groups`):
//   alice: builder-oncall        (responder in the tests' role rules)
//   bob:   builder-team          (viewer)
//   root:  builder-admins        (admin)
//   carol: none                  (no role: refused)
//   frank: none, but his verified e-mail frank@example.test is named in the tests' admin rule
//   erin:  none, and an UNVERIFIED e-mail claiming to be frank@example.test (must get nothing)
// Prints "oidc-provider listening on http://127.0.0.1:PORT" when ready.
import Provider from 'oidc-provider';

const [port, ...redirectUris] = process.argv.slice(2);
if (!port || redirectUris.length === 0) {
  console.error('usage: oidc-provider.mjs PORT REDIRECT_URI [REDIRECT_URI ...]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const GROUPS = {
  alice: ['builder-oncall', 'builder-team'],
  bob: ['builder-team'],
  root: ['builder-admins'],
  carol: [],
};
// [email, email_verified] where it is not `${sub}@example.test`, verified.
const EMAILS = {
  erin: ['frank@example.test', false],
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'onwatch',
    client_secret: 'onwatch-secret',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: EMAILS[sub]?.[0] ?? `${sub}@example.test`,
          email_verified: EMAILS[sub]?.[1] ?? true,
          name: `${sub[0].toUpperCase()}${sub.slice(1)} Example`,
          preferred_username: sub,
          groups: GROUPS[sub] ?? [],
        };
      },
    };
  },
  cookies: { keys: ['onwatch-test-cookie-key'] },
});
// Quieter test logs: the in-memory adapter and dev keys are what a test wants.
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));

const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
