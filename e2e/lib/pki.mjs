// Test certificates for the mutual TLS world (e2e/test/mtls.test.mjs), made
// with the openssl CLI: a CA, an RSA server certificate for 127.0.0.1 (the
// two TLS 1.2 suites the gateway offers, FAPI 1.0 Advanced section 8.5, are
// ECDHE_RSA ones), and a client certificate with a DNS subjectAltName for
// RFC 8705 tls_client_auth. Also tlsFetch: a fetch over node:https that
// trusts that CA and presents a client certificate, for oauth4webapi's
// customFetch and the scripted user agent (node's global fetch cannot take
// a CA or a certificate without the undici package).
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';

/** CLIENT_SAN_DNS is the client certificate's dNSName (tls_client_auth_san_dns). */
export const CLIENT_SAN_DNS = 'client.mtls.example';

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')}: ${err.stderr?.toString() || err.message}`);
  }
}

/**
 * makePKI writes ca.pem, server.pem/server.key and client.pem/client.key to
 * dir and resolves to their paths and PEM texts:
 * { ca, server, client } each { certFile, keyFile?, cert, key? }, plus
 * client.thumbprint, the base64url SHA-256 of the client certificate's DER
 * (RFC 8705 section 3.1, cnf x5t#S256).
 */
export function makePKI(dir) {
  const ext = (name, lines) => {
    const f = join(dir, `${name}.ext`);
    writeFileSync(f, `${lines.join('\n')}\n`);
    return f;
  };
  const days = ['-days', '2'];
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', ...days,
    '-subj', '/CN=parjarm e2e test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const issue = (name, subj, lines) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, ...days, '-sha256', '-extfile', ext(name, lines)], dir);
  };
  issue('server', '/CN=127.0.0.1', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1']);
  issue('client', '/O=parjarm e2e/CN=mtls-client', ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth', `subjectAltName=DNS:${CLIENT_SAN_DNS}`]);
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  const pair = (name) => ({ certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`), cert: read(`${name}.pem`), key: read(`${name}.key`) });
  const client = pair('client');
  client.thumbprint = createHash('sha256').update(new X509Certificate(client.cert).raw).digest('base64url');
  return { ca: { certFile: join(dir, 'ca.pem'), cert: read('ca.pem') }, server: pair('server'), client };
}

/**
 * tlsFetch returns a fetch(url, init) for https URLs over node:https that
 * trusts ca and presents { cert, key } when given (a client certificate),
 * never follows redirects (a 3xx is returned as is, like redirect:
 * 'manual'), and resolves to a standard Response (every Set-Cookie header
 * kept). Other URLs (the http callback server) go to the global fetch.
 */
export function tlsFetch({ ca, cert, key } = {}) {
  return async (url, init = {}) => {
    const u = new URL(url);
    if (u.protocol !== 'https:') return fetch(url, init);
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries());
    let body = init.body;
    if (body instanceof URLSearchParams) {
      body = body.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    }
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new TypeError(`tlsFetch: unsupported body ${Object.prototype.toString.call(body)}`);
    }
    if (body != null) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = httpsRequest(u, { method: init.method ?? 'GET', headers, ca, cert, key, agent: false, signal: init.signal }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          const nullBody = [101, 204, 205, 304].includes(res.statusCode) || init.method === 'HEAD';
          const response = new Response(nullBody ? null : Buffer.concat(chunks), { status: res.statusCode, statusText: res.statusMessage, headers: h });
          Object.defineProperty(response, 'url', { value: u.href });
          resolve(response);
        });
      });
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  };
}
