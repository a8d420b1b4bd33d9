// The browser-ceremony page: one self-contained HTML document (no CDN, nothing else to fetch) that runs a
// WebAuthn registration or authentication with @simplewebauthn/browser, inlined, and posts the browser's
// answer back to its own URL. Served by the CLI's one-shot loopback server and by `ssrun serve`.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type CeremonyKind = 'register' | 'authenticate';

export interface CeremonyPageInput {
  kind: CeremonyKind;
  /** Plain text, escaped here. */
  title: string;
  /** The options JSON for the browser library (embedded, never fetched). */
  options: unknown;
  /** The CSP nonce of this response (see pageHeaders). */
  nonce: string;
  /**
   * Who asked for this ceremony, from where and when (plain text): shown, and the page then waits for a click
   * (a server's page, which a link may lead anyone to). Absent: the page starts by itself (the loopback page).
   */
  context?: string;
}

const PACKAGE = '@simplewebauthn/browser';
const BUNDLE = join('dist', 'bundle', 'index.umd.min.js');
let bundle: string | undefined;

/**
 * The UMD bundle of @simplewebauthn/browser, read once. The package exports only its entry points, so the
 * bundle is found from the package directory: the nearest directory above the resolved entry holding the
 * bundle. Resolution starts from this module, so it works from dist/ (tsc) and dist/bin/ (esbuild).
 */
function browserBundle(): string {
  if (bundle !== undefined) return bundle;
  const entry = createRequire(import.meta.url).resolve(PACKAGE);
  let dir = dirname(entry);
  while (!existsSync(join(dir, BUNDLE))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`${PACKAGE}: ${BUNDLE} not found`);
    dir = up;
  }
  const text = readFileSync(join(dir, BUNDLE), 'utf8');
  // Inlined in a <script>: the text must not be able to end it (it does not; a new version would be caught).
  if (/<\/script|<!--/i.test(text)) throw new Error(`${PACKAGE}: the bundle cannot be inlined in a <script>`);
  bundle = text;
  return text;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside a <script>: no `<`, `>`, `&` (no `</script>`, no `<!--`), no JS line separators. */
export function scriptJson(value: unknown): string {
  const json = JSON.stringify(value ?? null);
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The headers every response carrying the page needs: the CSP allows only this page's nonce, and 'self'. */
export function pageHeaders(nonce: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  };
}

const STYLE = `
body { font: 16px/1.5 system-ui, sans-serif; max-width: 36em; margin: 4em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.3em; }
#status[data-state="done"] { color: #185c1f; }
#status[data-state="error"] { color: #a01818; }
button { font: inherit; padding: .4em 1.2em; }
button[hidden] { display: none; }
`;

// The ceremony, in the page. It starts by itself when the document has the focus (browsers refuse WebAuthn
// in a background tab), else on the first focus or on the button (a user gesture, for browsers that want
// one). It runs once: the answer, or the refusal, is posted once and the page says how it went.
const SCRIPT = `
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  var kind = CEREMONY_KIND;
  var confirmFirst = CEREMONY_CONFIRM;
  var optionsJSON = CEREMONY_OPTIONS;
  var status = document.getElementById('status');
  var button = document.getElementById('start');
  var started = false;
  function show(state, text) {
    status.setAttribute('data-state', state);
    status.textContent = text;
  }
  function post(body) {
    return fetch(location.pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    }).then(function (res) {
      if (res.ok) return;
      return res.text().then(function (text) {
        throw new Error(text.trim() || 'HTTP ' + res.status);
      });
    });
  }
  function start() {
    if (started) return;
    started = true;
    button.hidden = true;
    show('waiting', 'Touch your security key\\u2026');
    var run = kind === 'register' ? lib.startRegistration : lib.startAuthentication;
    Promise.resolve()
      .then(function () { return run({ optionsJSON: optionsJSON }); })
      .then(
        function (response) {
          return post({ response: response }).then(function () {
            show('done', 'Done: you can close this window');
          });
        },
        function (err) {
          var reason = String((err && err.name) || 'Error') + ': ' + String((err && err.message) || err);
          return post({ refused: reason }).then(function () {
            show('error', 'The security key was not used (' + reason + '). You can close this window.');
          });
        }
      )
      .catch(function (err) {
        show('error', 'Could not send the answer to ssrun: ' + String((err && err.message) || err));
      });
  }
  button.addEventListener('click', start);
  if (!lib) {
    show('error', 'The page is incomplete: the WebAuthn library did not load');
    return;
  }
  // A page on a server's public origin waits for a click: a link sent by someone else must not use the key by itself.
  if (confirmFirst) button.hidden = false;
  else if (document.hasFocus()) start();
  else {
    button.hidden = false;
    window.addEventListener('focus', start, { once: true });
  }
})();
`;

/** The whole page: title, status line, the library and the ceremony script (both under the nonce). */
export function ceremonyPage(input: CeremonyPageInput): string {
  const { kind, title, options, nonce } = input;
  const script = SCRIPT.replace('CEREMONY_KIND', scriptJson(kind)).replace('CEREMONY_CONFIRM', input.context ? 'true' : 'false').replace('CEREMONY_OPTIONS', () => scriptJson(options));
  const context = input.context
    ? `<p id="context"><strong>Only continue if you started this yourself, just now:</strong> ${escapeHtml(input.context)}. A link someone sent you is not a reason to touch your key.</p>`
    : '';
  const label = kind === 'register' ? 'Register the security key' : 'Use the security key';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>ssrun: ${escapeHtml(title)}</title>
<style nonce="${escapeHtml(nonce)}">${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${context}
<p id="status" data-state="waiting" role="status" aria-live="polite">${input.context ? 'Press the button, then touch your security key' : 'Touch your security key\u2026'}</p>
<p><button id="start" type="button" hidden>${label}</button></p>
<noscript><p>This page needs JavaScript to talk to your security key.</p></noscript>
<script nonce="${escapeHtml(nonce)}">${browserBundle()}</script>
<script nonce="${escapeHtml(nonce)}">${script}</script>
</body>
</html>
`;
}
