// The parjarm quick-start demo (run by scripts/demo.sh).
//
// Starts the legacy upstream (oidc-provider WITHOUT PAR and JARM), the
// gateway in front of it (embedded memory store, ephemeral development
// signing key) and a tiny client callback server, then performs one PAR +
// JARM flow with oauth4webapi and the scripted user agent, printing every
// step. Afterwards it stays up until Ctrl-C and prints what you need to try
// it yourself with curl or a browser.
//
//   node e2e/demo.mjs            run the flow, then stay up
//   node e2e/demo.mjs --once     run the flow and exit (0 on success)
//   node e2e/demo.mjs --verbose  also print the gateway's log
//
// Ports: 8080 (gateway), 9090 (admin), 4000 (upstream), 4001 (client
// callback) when free, else any free port; override with DEMO_GATEWAY_PORT,
// DEMO_ADMIN_PORT, DEMO_UPSTREAM_PORT, DEMO_CALLBACK_PORT.
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

import { UserAgent } from './agent.mjs';
import { authorizationUrl, clientAuth, decodeJwt, discover, jarmParams, newRequest, oauth, OPTS, redeem, rpClient, validateJarm } from './lib/client.mjs';
import { CLIENTS, USER } from './lib/fixtures.mjs';

const { values: flags } = parseArgs({ options: { once: { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false } } });

// oidc-provider warns about its in-memory adapter and about Node 20; true,
// and beside the point of a demo. --verbose shows them.
if (!flags.verbose) {
  const warn = console.warn;
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING')) return;
    warn(...args);
  };
}
const { startWorld } = await import('./lib/world.mjs');

const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const json = (v) => JSON.stringify(v, null, 2).split('\n').map((l) => `    ${l}`).join('\n');
let stepNo = 0;
const step = (title) => console.log(`\n${bold(`${++stepNo}. ${title}`)}`);
const say = (line = '') => console.log(`   ${line}`);

async function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function pickPort(envName, preferred) {
  if (process.env[envName]) return Number(process.env[envName]);
  return (await portFree(preferred)) ? preferred : undefined;
}

async function main() {
  const ports = {
    gateway: await pickPort('DEMO_GATEWAY_PORT', 8080),
    admin: await pickPort('DEMO_ADMIN_PORT', 9090),
    upstream: await pickPort('DEMO_UPSTREAM_PORT', 4000),
    callback: await pickPort('DEMO_CALLBACK_PORT', 4001),
  };
  const gatewayLines = [];
  let flowStarted = false;
  console.log(bold('parjarm demo: PAR + JARM in front of a legacy authorization server'));
  console.log(dim('starting the legacy upstream (oidc-provider 9, PAR and JARM features off) and the gateway (memory store, development key)...'));
  const world = await startWorld({
    gateways: 1,
    signingKeys: false, // the gateway generates an ephemeral development key
    gatewayEnv: { PARJARM_LOG_LEVEL: flags.verbose ? 'debug' : 'info' },
    ports,
    log: (line) => {
      if (line.startsWith('[gateway]')) {
        gatewayLines.push(line);
        // Before the flow: the gateway's warnings (memory store, development
        // key) and its ready line; everything with --verbose.
        if (flags.verbose || (!flowStarted && /\tWARN\t|\tERROR\t|parjarm ready/.test(line))) console.log(dim(line));
      } else if (flags.verbose) {
        console.log(dim(line));
      }
    },
  });
  let closing = false;
  const shutdown = async (code) => {
    if (closing) return;
    closing = true;
    await world.close();
    process.exit(code);
  };
  process.on('SIGINT', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));

  let as;
  try {
    flowStarted = true;
    const c = world.clients[CLIENTS.basic];
    console.log(`\n   legacy upstream  ${world.upstream.url}  (issuer it announces: ${world.issuer})`);
    console.log(`   parjarm gateway  ${world.gateway.url}  (admin ${world.gateway.adminUrl})`);
    console.log(`   client callback  ${world.callback.url}`);

    step('Discovery through the gateway');
    as = await discover(world.issuer);
    say(`GET ${world.issuer}/.well-known/openid-configuration`);
    say(`pushed_authorization_request_endpoint: ${as.pushed_authorization_request_endpoint}`);
    say(`response_modes_supported: ${as.response_modes_supported.join(', ')}`);
    say(`authorization_signing_alg_values_supported: ${(as.authorization_signing_alg_values_supported ?? []).join(', ')}`);
    say(`jwks_uri: ${as.jwks_uri}`);
    for (const ep of ['authorization_endpoint', 'token_endpoint']) {
      if (new URL(as[ep]).origin !== new URL(world.issuer).origin) {
        throw new Error(`discovery through the gateway names ${ep} ${as[ep]}, which is not on the gateway: a client would bypass it`);
      }
    }

    step('Push the authorization request (RFC 9126) with client_secret_basic');
    const req = await newRequest(c, { response_mode: 'query.jwt' });
    say(`POST ${as.pushed_authorization_request_endpoint}   (Authorization: Basic ${c.id}:<secret>)`);
    for (const [k, v] of Object.entries(req.params)) say(`  ${k}=${v}`);
    const pushRes = await oauth.pushedAuthorizationRequest(as, rpClient(c), clientAuth(c), req.params, OPTS);
    say(`-> HTTP ${pushRes.status}, Cache-Control: ${pushRes.headers.get('cache-control')}`);
    const pushed = await oauth.processPushedAuthorizationResponse(as, rpClient(c), pushRes);
    console.log(json(pushed));

    step('Send the browser to the authorization endpoint with only client_id and request_uri');
    const authUrl = authorizationUrl(as, { client_id: c.id, request_uri: pushed.request_uri });
    say(authUrl.href);

    step(`The user signs in as ${USER.username} and allows (the legacy upstream's own pages, through the gateway)`);
    const agent = new UserAgent({ username: USER.username, password: USER.password, log: (l) => say(l.length > 200 ? `${l.slice(0, 197)}...` : l) });
    const result = await agent.authorize(authUrl, c.redirectUri);
    if (result.kind !== 'redirect') throw new Error(`expected a redirect to the client, got ${result.kind} ${result.status}: ${result.html?.slice(0, 500)}`);

    step('The JARM response arrives at the client (response_mode=query.jwt)');
    say(`${result.status} Location: ${result.url.origin}${result.url.pathname}?response=<JWT>`);
    const params = jarmParams(result);
    const jwt = params.get('response');
    if (!jwt) throw new Error(`no JARM response in ${result.url.href}`);
    say(`response = ${jwt}`);
    const { header, payload } = decodeJwt(jwt);
    say('decoded header:');
    console.log(json(header));
    say('decoded claims:');
    console.log(json(payload));
    const validated = await validateJarm(as, c, params, req.state);
    say(`oauth4webapi validateJwtAuthResponse: signature (kid ${header.kid} from ${as.jwks_uri}), iss, aud, exp and state OK`);

    step('Redeem the code at the token endpoint (through the gateway to the upstream)');
    say(`POST ${as.token_endpoint}   grant_type=authorization_code, code, redirect_uri, code_verifier`);
    const { tokens, claims } = await redeem(as, c, validated, { codeVerifier: req.codeVerifier, nonce: req.nonce });
    console.log(json(tokens));
    say('ID Token claims (signature verified with the upstream key from the same jwks_uri):');
    console.log(json(claims));

    console.log(`\n${bold('The flow completed: PAR and JARM, added by parjarm to a server that has neither.')}`);
  } catch (err) {
    console.error(`\ndemo flow failed: ${err.stack}`);
    if (!flags.verbose) console.error(`--- gateway log ---\n${gatewayLines.slice(-40).join('\n')}`);
    await shutdown(1);
    return;
  }

  if (flags.once) {
    await shutdown(0);
    return;
  }

  const basic = world.clients[CLIENTS.basic];
  const pub = world.clients[CLIENTS.public];
  const g = world.gateway.url;
  console.log(`
${bold('Still running. Try it yourself (Ctrl-C to stop):')}

   gateway (issuer)   ${g}
   discovery          ${g}/.well-known/openid-configuration
   PAR endpoint       ${as.pushed_authorization_request_endpoint}
   JWKS               ${as.jwks_uri}
   readiness          ${world.gateway.adminUrl}/readyz   metrics ${world.gateway.adminUrl}/metrics
   legacy upstream    ${world.upstream.url}  (no PAR, no JARM on its own)
   user               ${USER.username} / ${USER.password}

   confidential client  client_id=${basic.id}
                        client_secret=${basic.secret}
                        redirect_uri=${basic.redirectUri}   (client_secret_basic)
   public client        client_id=${pub.id}   redirect_uri=${pub.redirectUri}   (PKCE S256 required)

   # 1. push (the answer holds a request_uri, valid 60 s)
   curl -s -u '${basic.id}:${basic.secret}' ${as.pushed_authorization_request_endpoint} \\
     -d client_id=${basic.id} -d response_type=code -d scope=openid -d response_mode=form_post.jwt -d state=demo \\
     --data-urlencode redirect_uri=${basic.redirectUri}

   # 2. open in a browser, sign in as ${USER.username} / ${USER.password}; the callback page shows the JARM response
   ${as.authorization_endpoint}?client_id=${basic.id}&request_uri=<request_uri from step 1>

   # 3. redeem the code from the JWT's claims
   curl -s -u '${basic.id}:${basic.secret}' ${as.token_endpoint} -d grant_type=authorization_code -d code=<code> \\
     --data-urlencode redirect_uri=${basic.redirectUri}
`);
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
