// A scripted user agent: what a browser does in an authorization flow,
// minus the rendering. It keeps cookies, follows redirects one hop at a time
// (fetch with redirect: 'manual'), fills in the legacy upstream's login and
// consent forms (e2e/upstream.mjs) and can press Deny. It stops at the
// client's redirect_uri and returns that URL; for a 200 page carrying an
// auto-submitting form (form_post, form_post.jwt) it posts the form's hidden
// inputs to the form's action as a browser would, and returns what was sent.

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** CookieJar is a minimal RFC 6265 jar: host-only cookies, path matching, expiry. */
export class CookieJar {
  #cookies = new Map(); // `${host}\t${path}\t${name}` -> { host, path, name, value, expires }

  /** store records the Set-Cookie headers of a response to url. */
  store(url, response) {
    const u = new URL(url);
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = defaultPath(u.pathname);
      let expires = Infinity;
      for (const attr of attrs) {
        const [k, ...v] = attr.split('=');
        const key = k.trim().toLowerCase();
        const val = v.join('=').trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        if (key === 'max-age') expires = Date.now() + Number(val) * 1000;
        if (key === 'expires' && expires === Infinity) expires = Date.parse(val);
      }
      // Cookies are per host, not per port (RFC 6265, section 8.5): two
      // gateway replicas on one host share them, as in a browser.
      const id = `${u.hostname}\t${path}\t${name}`;
      if (expires <= Date.now()) this.#cookies.delete(id);
      else this.#cookies.set(id, { host: u.hostname, path, name, value, expires });
    }
  }

  /** header returns the Cookie header value for a request to url. */
  header(url) {
    const u = new URL(url);
    const now = Date.now();
    const out = [];
    for (const [id, c] of this.#cookies) {
      if (c.expires <= now) {
        this.#cookies.delete(id);
        continue;
      }
      if (c.host !== u.hostname) continue;
      if (!(u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))) continue;
      out.push(`${c.name}=${c.value}`);
    }
    return out.join('; ');
  }

  /** size is the number of live cookies. */
  get size() {
    return this.#cookies.size;
  }
}

function defaultPath(pathname) {
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

/** unescapeHtml decodes the HTML character references of an attribute value. */
export const unescapeHtml = (s) => s
  .replace(/&quot;/g, '"')
  .replace(/&#39;|&#x27;/g, "'")
  .replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>')
  .replace(/&#x2F;|&#47;/g, '/')
  .replace(/&#x3D;|&#61;/g, '=')
  .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
  .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(parseInt(n, 16)))
  .replace(/&amp;/g, '&');

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
  if (!m) return undefined;
  return unescapeHtml(m[1] ?? m[2] ?? m[3]);
}

/**
 * parseForms extracts every <form> of an HTML page: its id, method, action
 * and its inputs and buttons (name, value, type).
 */
export function parseForms(html) {
  const forms = [];
  const re = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    const open = `<form ${m[1]}>`;
    const fields = [];
    const fre = /<(input|button)\b([^>]*)>/gi;
    for (let f = fre.exec(m[2]); f; f = fre.exec(m[2])) {
      const tag = `<x ${f[2]}>`;
      fields.push({
        tag: f[1].toLowerCase(),
        id: attr(tag, 'id'),
        name: attr(tag, 'name'),
        value: attr(tag, 'value') ?? '',
        type: (attr(tag, 'type') ?? (f[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase(),
      });
    }
    forms.push({
      id: attr(open, 'id'),
      method: (attr(open, 'method') ?? 'get').toUpperCase(),
      action: attr(open, 'action'),
      fields,
    });
  }
  return forms;
}

/**
 * UserAgent drives one user's browser-like session.
 *
 * options:
 *   username, password  credentials typed into the login form
 *   decision            'allow' (default) or 'deny' on the consent page
 *   log                 optional (line) => void, one line per step
 *   route               optional (url, hop) => url: where to actually send
 *                       hop number `hop` (scenario 7 alternates replicas)
 *   maxHops             safety limit (default 25)
 *   fetch               optional fetch to send requests with (default the
 *                       global fetch; e2e/lib/pki.mjs tlsFetch trusts a test CA)
 */
export class UserAgent {
  constructor({ username, password, decision = 'allow', log, route, maxHops = 25, fetch: fetcher = (...a) => fetch(...a) } = {}) {
    this.fetch = fetcher;
    this.username = username;
    this.password = password;
    this.decision = decision;
    this.log = log ?? (() => {});
    this.route = route ?? ((u) => u);
    this.maxHops = maxHops;
    this.jar = new CookieJar();
    this.hop = 0;
    /** history lists every request: { method, url, status, location? } */
    this.history = [];
  }

  /** request sends one request with the jar's cookies and no redirect following. */
  async request(url, { method = 'GET', form } = {}) {
    const target = this.route(String(url), this.hop++);
    const headers = { 'user-agent': 'parjarm-e2e-agent', accept: 'text/html,application/json;q=0.9,*/*;q=0.8' };
    const cookie = this.jar.header(target);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await this.fetch(target, { method, headers, body, redirect: 'manual' });
    this.jar.store(target, res);
    const entry = { method, url: target, status: res.status };
    if (REDIRECTS.has(res.status)) entry.location = res.headers.get('location');
    this.history.push(entry);
    this.log(`${method} ${target} -> ${res.status}${entry.location ? ` Location: ${entry.location}` : ''}`);
    return res;
  }

  /**
   * authorize starts at url (an authorization request) and runs the flow
   * until the response reaches one of redirectUris (a string or an array of
   * redirect URI prefixes). It resolves to one of:
   *   { kind: 'redirect', url: URL, status }          the client's callback URL (query/fragment)
   *   { kind: 'form_post', action, params: URLSearchParams, status, html, result }
   *        a 200 auto-submit page whose form was posted to its action
   *        (result: {status, body} of that POST)
   *   { kind: 'page', status, url, html, headers }    anything else (an error page)
   * and records every login/consent page seen in this.pages.
   */
  async authorize(url, redirectUris) {
    const prefixes = [redirectUris].flat();
    const isCallback = (u) => prefixes.some((p) => u.startsWith(p));
    this.pages = [];
    /** authorizeStart is where this authorize begins in history. */
    this.authorizeStart = this.history.length;
    let next = { url: String(url), method: 'GET' };
    for (let i = 0; i < this.maxHops; i++) {
      const res = await this.request(next.url, next);
      const current = next.url;
      if (REDIRECTS.has(res.status)) {
        await res.arrayBuffer();
        const loc = res.headers.get('location');
        if (!loc) throw new Error(`${res.status} without Location from ${current}`);
        const target = new URL(loc, current);
        if (isCallback(target.href)) return { kind: 'redirect', url: target, status: res.status, location: loc };
        // 307/308 repeat the method and body; the flows here only see 302/303.
        next = { url: target.href, method: 'GET' };
        continue;
      }
      const html = await res.text();
      const forms = res.status === 200 && /html/i.test(res.headers.get('content-type') ?? '') ? parseForms(html) : [];
      const login = forms.find((f) => f.id === 'login');
      const consent = forms.find((f) => f.id === 'consent');
      if (login) {
        this.pages.push({ kind: 'login', url: current });
        this.log(`  login page: signing in as ${this.username}`);
        next = { url: new URL(login.action, current).href, method: 'POST', form: { username: this.username, password: this.password } };
        continue;
      }
      if (consent) {
        this.pages.push({ kind: 'consent', url: current });
        const button = consent.fields.find((f) => f.name === 'decision' && f.value === this.decision);
        if (!button) throw new Error(`consent page has no "${this.decision}" button`);
        this.log(`  consent page: pressing ${this.decision === 'allow' ? 'Allow' : 'Deny'}`);
        next = { url: new URL(consent.action, current).href, method: 'POST', form: { decision: button.value } };
        continue;
      }
      const post = forms.find((f) => f.method === 'POST' && f.action && isCallback(new URL(f.action, current).href));
      if (post) {
        // An auto-submitting form_post page: post its hidden inputs to the
        // action, exactly as a browser's script or <noscript> button would.
        const params = new URLSearchParams();
        for (const f of post.fields) if (f.tag === 'input' && f.name) params.append(f.name, f.value);
        const action = new URL(post.action, current).href;
        this.log(`  auto-submit page: POST ${action} (${[...params.keys()].join(', ')})`);
        const cb = await this.fetch(action, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'null' },
          body: params.toString(),
          redirect: 'manual',
        });
        const result = { status: cb.status, body: await cb.text() };
        return { kind: 'form_post', action, params, status: res.status, html, headers: res.headers, result };
      }
      return { kind: 'page', status: res.status, url: current, html, headers: res.headers };
    }
    throw new Error(`no callback after ${this.maxHops} hops: ${this.history.map((h) => `${h.method} ${h.url} ${h.status}`).join(' | ')}`);
  }
}
