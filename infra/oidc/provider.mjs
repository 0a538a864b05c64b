// A local OpenID Provider for Kiroku's tests: panva's oidc-provider (OpenID Certified), configured
// from a JSON file and run by infra/oidc.py. Never a production identity provider.
//
//   node provider.mjs <config.json>
//
// config.json: {modules_dir, host, port (0 = any), ready_file, clients: [{client_id, client_secret,
// redirect_uris}], accounts: {sub: {name, email, ...}}, claims_in_id_token}
//
// The server binds first and builds the Provider with the port it got, so the issuer
// (http://<host>:<port>) is exact even with port 0; then it writes {port, issuer} to ready_file.
// Login and consent are oidc-provider's devInteractions (a form taking any login name); only the
// configured accounts exist, so an unknown login ends in an error, not a session.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// oidc-provider is installed in a cache directory, not beside this file: resolve it from there.
const entry = createRequire(join(config.modules_dir, 'package.json')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(entry).href);

// A fresh RS256 signing key per run (never oidc-provider's built-in development key).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

const accounts = config.accounts;

const server = createServer();
server.listen(config.port, config.host, () => {
  const { port } = server.address();
  const issuer = `http://${config.host}:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 offers
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'] },
    // Core 1.0 §5.4 puts scope claims in the UserInfo response only (oidc-provider's default);
    // claims_in_id_token puts them in the ID token too, as many providers do.
    conformIdTokenClaims: !config.claims_in_id_token,
    features: { devInteractions: { enabled: true } },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
    async findAccount(ctx, sub) {
      if (!Object.hasOwn(accounts, sub)) return undefined;
      return {
        accountId: sub,
        async claims() { return { ...accounts[sub], sub }; },
      };
    },
  });
  server.on('request', provider.callback());
  const ready = `${config.ready_file}.tmp`;
  writeFileSync(ready, JSON.stringify({ port, issuer, pid: process.pid }));
  renameSync(ready, config.ready_file);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
