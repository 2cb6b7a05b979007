// A relying party built on openid-client (OpenID-certified), driven by
// tests/api/oidc/openid_client.rs: it discovers doorcode, prints the
// authorization URL, reads the callback URL the browser reached from stdin, and
// then redeems the code, validates the ID token, calls userinfo, refreshes,
// introspects, revokes and builds the logout URL, printing what it saw.
import * as readline from 'node:readline';
import * as client from 'openid-client';

const env = process.env;
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n');

async function main() {
  const auth = env.CLIENT_SECRET ? client.ClientSecretBasic(env.CLIENT_SECRET) : client.None();
  const config = await client.discovery(
    new URL(env.ISSUER),
    env.CLIENT_ID,
    env.CLIENT_SECRET ? {} : { token_endpoint_auth_method: 'none' },
    auth,
    { execute: [client.allowInsecureRequests] },
  );
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: env.REDIRECT_URI,
    scope: 'openid email profile offline_access groups',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  say({ authorize: url.href });

  const callback = new URL(await nextLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const introspection = env.CLIENT_SECRET
    ? await client.tokenIntrospection(config, refreshed.access_token)
    : null;
  await client.tokenRevocation(config, refreshed.refresh_token);
  let afterRevocation = null;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
    afterRevocation = 'refreshed';
  } catch (e) {
    afterRevocation = e.error ?? String(e);
  }
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: env.POST_LOGOUT_URI,
    state: 'bye-state',
  });
  say({
    claims,
    userinfo,
    refreshed_claims: refreshed.claims(),
    refresh_changed: refreshed.refresh_token !== tokens.refresh_token,
    introspection,
    after_revocation: afterRevocation,
    end_session: endSession.href,
  });
}

main().then(
  () => process.exit(0),
  (e) => {
    say({ failed: `${e.name}: ${e.message}${e.code ? ` (${e.code})` : ''}${e.error ? ` ${e.error}` : ''}` });
    process.exit(1);
  },
);
