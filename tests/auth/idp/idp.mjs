// An independent OpenID Connect provider for f7tproxy's tests: npm oidc-provider,
// serving client-credentials JWT access tokens, its JWKS and OIDC discovery on
// 127.0.0.1 at an ephemeral port.
//
//   node idp.mjs CONFIG_JSON
//
// CONFIG_JSON: {"audience": "...", "clients": [{"client_id", "client_secret",
// "username", "auth_method"}]}. Once listening it prints one JSON line
// {"issuer": "http://127.0.0.1:PORT"} on stdout.
//
// Test controls (not part of any IdP): POST /__rotate replaces the signing key
// with a new one (new kid) and prints nothing; GET /__kids lists the published kids.

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const usernames = Object.fromEntries(config.clients.map((c) => [c.client_id, c.username]));

function newKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

function makeProvider(issuer, key) {
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: c.auth_method || 'client_secret_post',
    })),
    jwks: { keys: [key] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:f7tproxy:api',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: '',
          audience: config.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: { ClientCredentials: 300 },
    extraTokenClaims: (ctx, token) => ({ preferred_username: usernames[token.clientId] }),
  });
  return provider.callback();
}

let key = newKey();
let handler = null;
const server = http.createServer((req, res) => {
  if (req.url === '/__rotate' && req.method === 'POST') {
    key = newKey();
    handler = makeProvider(server.issuer, key);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: key.kid }));
    return;
  }
  if (req.url === '/__kids') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: [key.kid] }));
    return;
  }
  handler(req, res);
});

server.listen(0, '127.0.0.1', () => {
  server.issuer = `http://127.0.0.1:${server.address().port}`;
  handler = makeProvider(server.issuer, key);
  process.stdout.write(JSON.stringify({ issuer: server.issuer }) + '\n');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
