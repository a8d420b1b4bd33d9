// A real browser for the ceremony tests: Debian's headless Chromium driven by playwright-core (never a
// downloaded browser), with a CDP virtual authenticator (a CTAP2 USB key with user verification that
// touches itself). And a fake BROWSER for e2e runs of bin/ssrun: it records the URLs it is asked to open,
// for the test to drive in Chromium.

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
// CI installs it (.ci/run): there, a missing browser is a failure, not a skipped suite.
if (!hasChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium for the security-key tests`);

/** A credential as CDP's WebAuthn domain gives and takes it (ids and keys in base64). */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
  largeBlob?: string;
}

/** How a ceremony page ended: `done`, or `error` with what it says. */
export interface PageOutcome {
  state: 'done' | 'error';
  text: string;
}

export interface TestBrowser {
  /** Opens the URL (pressing the button where the page asks for it, as a user would) and waits until the page says it is done, or shows an error. */
  open(url: string, timeoutMs?: number): Promise<PageOutcome>;
  /** Opens the URL and returns without waiting (for tests that drive the page themselves). */
  goto(url: string): Promise<void>;
  credentials(): Promise<VirtualCredential[]>;
  addCredential(credential: VirtualCredential): Promise<void>;
  /** Forgets every credential of the authenticator. */
  removeAll(): Promise<void>;
  setUserVerified(verified: boolean): Promise<void>;
  /** Unplugs the virtual authenticator (no key at all: the browser refuses, at the options' timeout). */
  removeAuthenticator(): Promise<void>;
  /** Plugs a new one in (after removeAuthenticator), with no credential. */
  addAuthenticator(): Promise<void>;
  readonly page: Page;
  close(): Promise<void>;
}

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const AUTHENTICATOR = {
  protocol: 'ctap2',
  transport: 'usb',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
} as const;

/** Waits until the ceremony page's status line is final. */
async function outcome(page: Page, timeoutMs: number): Promise<PageOutcome> {
  const status = page.locator('#status[data-state="done"], #status[data-state="error"]');
  await status.waitFor({ timeout: timeoutMs });
  const state = (await status.getAttribute('data-state')) as 'done' | 'error';
  return { state, text: (await status.textContent()) ?? '' };
}

/** Headless Chromium with one page and, unless `authenticator: false`, a virtual authenticator on it. */
export async function launchBrowser(opts: { authenticator?: boolean } = {}): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'ssrun-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, { headless: true, executablePath: CHROMIUM, args: ARGS, ignoreHTTPSErrors: true });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp: CDPSession = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  let authenticatorId: string | undefined;
  const addAuthenticator = async () => {
    authenticatorId = (await cdp.send('WebAuthn.addVirtualAuthenticator', { options: AUTHENTICATOR })).authenticatorId;
  };
  if (opts.authenticator !== false) await addAuthenticator();
  const id = () => {
    if (!authenticatorId) throw new Error('no virtual authenticator');
    return authenticatorId;
  };

  return {
    page,
    async open(url, timeoutMs = 30_000) {
      await page.goto(url);
      // A server's page says who asked for the ceremony and waits for the user's click.
      if (await page.locator('#context').count()) await page.click('#start');
      return outcome(page, timeoutMs);
    },
    async goto(url) {
      await page.goto(url);
    },
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId: id() })).credentials as VirtualCredential[];
    },
    async addCredential(credential) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId: id(), credential });
    },
    async removeAll() {
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId: id() });
    },
    async setUserVerified(verified) {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId: id(), isUserVerified: verified });
    },
    async removeAuthenticator() {
      if (!authenticatorId) return;
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
      authenticatorId = undefined;
    },
    addAuthenticator,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface BrowserHook {
  /** The environment that makes ssrun "open a browser" with the hook. */
  env: { BROWSER: string };
  /** The hook's directory: it also holds an `xdg-open` (for a PATH with it first). */
  dir: string;
  /** Every URL the hook was called with, in order (one argument per call). */
  calls(): string[][];
  /** The next URL the hook is called with (waits up to timeoutMs). */
  nextUrl(timeoutMs?: number): Promise<string>;
  cleanup(): void;
}

/**
 * A fake browser: an executable script that appends its arguments (one JSON line per call) to a file.
 * Tests run bin/ssrun (or showCeremony) with its env, then drive the URL in Chromium.
 */
export function browserHook(): BrowserHook {
  const dir = mkdtempSync(join(tmpdir(), 'ssrun-browser-hook-'));
  const log = join(dir, 'calls.jsonl');
  const script = `#!${process.execPath}\nrequire('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n`;
  for (const name of ['browser', 'xdg-open']) {
    writeFileSync(join(dir, name), script);
    chmodSync(join(dir, name), 0o755);
  }
  const calls = (): string[][] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as string[])
      : [];
  let consumed = 0;
  return {
    env: { BROWSER: join(dir, 'browser') },
    dir,
    calls,
    async nextUrl(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const all = calls();
        const next = all[consumed];
        if (next) {
          consumed++;
          if (next.length !== 1 || !next[0]) throw new Error(`the browser hook was called with ${JSON.stringify(next)}, not one URL`);
          return next[0];
        }
        if (Date.now() > until) throw new Error(`the browser hook was not called within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
