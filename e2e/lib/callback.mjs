// The client's redirect_uri: a tiny local web server standing in for the
// relying party's callback. It records every request (GET query, POST form)
// and serves a page that shows the response it got, reading the URL fragment
// with a script for fragment responses (scenario 9 runs it in Chromium).
import { createServer } from 'node:http';

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Client callback</title>
<script src="/callback.js" defer></script>
<style>body{font-family:sans-serif;margin:2rem}pre{white-space:pre-wrap;word-break:break-all}</style>
</head>
<body>
<h1>Client callback</h1>
<p>method: <code id="method">__METHOD__</code></p>
<h2>query / form</h2><pre id="params">__PARAMS__</pre>
<h2>fragment (read by script)</h2><pre id="fragment"></pre>
</body>
</html>`;

// Reads location.hash, shows it and posts it back so the suite can see what
// the page's own script saw.
const SCRIPT = `(function () {
  var frag = location.hash ? location.hash.slice(1) : '';
  var out = document.getElementById('fragment');
  out.textContent = frag ? new URLSearchParams(frag).toString().split('&').join('\\n') : '(none)';
  document.body.setAttribute('data-fragment-read', frag ? 'yes' : 'no');
  if (frag) {
    fetch('/fragment' + location.pathname.slice(3), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: frag });
  }
})();`;

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/**
 * startCallbackServer listens on 127.0.0.1 (port 0 = any) and resolves to
 * { url, port, events, waitFor(pred, ms), clear(), close() }.
 * events: { method, path, params: URLSearchParams, source: 'query'|'form'|'fragment'|'backchannel' }
 */
export async function startCallbackServer({ port = 0 } = {}) {
  const events = [];
  const waiters = new Set();
  const record = (ev) => {
    events.push(ev);
    for (const w of [...waiters]) {
      if (w.pred(ev)) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(ev);
      }
    }
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://callback.invalid');
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/callback.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(SCRIPT);
      return;
    }
    if (url.pathname.startsWith('/fragment/') && req.method === 'POST') {
      record({ method: 'POST', path: `/cb/${url.pathname.slice('/fragment/'.length)}`, params: new URLSearchParams(body), source: 'fragment' });
      res.writeHead(204).end();
      return;
    }
    // A client's backchannel_logout_uri (OpenID Connect Back-Channel Logout
    // 1.0): the OP POSTs a form with logout_token; the RP answers 200 with
    // Cache-Control: no-store (section 2.8).
    if (url.pathname.startsWith('/backchannel/')) {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('method not allowed');
        return;
      }
      record({ method: 'POST', path: url.pathname, params: new URLSearchParams(body), source: 'backchannel', contentType: req.headers['content-type'] });
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
      return;
    }
    if (!url.pathname.startsWith('/cb/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const params = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
    record({ method: req.method, path: url.pathname, params, source: req.method === 'POST' ? 'form' : 'query', contentType: req.headers['content-type'] });
    const listing = [...params].map(([k, v]) => `${k}=${v}`).join('\n') || '(none)';
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'",
    });
    res.end(PAGE.replace('__METHOD__', esc(req.method)).replace('__PARAMS__', esc(listing)));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    events,
    clear() {
      events.length = 0;
    },
    /** waitFor resolves with the first past or future event matching pred. */
    waitFor(pred, ms = 15000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`callback server: no matching request within ${ms} ms (saw ${events.map((e) => `${e.method} ${e.path}`).join(', ') || 'nothing'})`));
        }, ms);
        waiters.add(w);
      });
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
