// The loopback end of a redirect ceremony (src/cli/redirect.ts), over real HTTP on 127.0.0.1: one GET at the
// secret path with its own Host is the answer; another Host (421), another path (404), another method (405)
// and anything after the one (410) are refused and change nothing; only the kept query keys reach the factor;
// the page says how it ended, escaped, with no script and no referrer; the deadline ends it (MFA_TIMEOUT) and
// so does the signal (CANCELLED), and the port is closed after.

import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loopbackRedirect } from '../../src/cli/redirect.js';
import type { RedirectReturn } from '../../src/core/ceremony.js';
import { SsrunError } from '../../src/core/errors.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(url: string, opts: { method?: string; host?: string } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(u, { method: opts.method ?? 'GET', headers: opts.host ? { host: opts.host } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

/** Starts a redirect ceremony whose "provider page" is just the redirect URI; `uri` resolves with it. */
function start(opts: { ms?: number; signal?: AbortSignal; page?: { ok: boolean; message: string } } = {}) {
  let gotUri!: (u: string) => void;
  const uri = new Promise<string>((resolve) => (gotUri = resolve));
  const seen: RedirectReturn[] = [];
  const events: unknown[] = [];
  const result = loopbackRedirect(
    {
      subject: 'principal/internal/user/bob',
      message: 'Complete the prompt',
      build: async (redirectUri) => {
        gotUri(redirectUri);
        return `https://duo.example/authorize?redirect_uri=${encodeURIComponent(redirectUri)}`;
      },
      deadline: Date.now() + (opts.ms ?? 10_000),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (e) => events.push(e),
    },
    async (back) => {
      seen.push(back);
      return { result: back.params.state === 'good' ? 'allowed' : 'denied', page: opts.page ?? { ok: true, message: 'Approved <b>&</b> done' } };
    },
  );
  result.catch(() => undefined);
  return { uri, result, seen, events };
}

describe('loopbackRedirect', () => {
  it('takes one GET at its path: the kept keys reach the factor, the page says how it ended', async () => {
    const f = start();
    const uri = await f.uri;
    expect(uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}$/);
    const port = Number(new URL(uri).port);
    const page = await send(`${uri}?duo_code=abc&state=good&extra=no&error_description=${'x'.repeat(5000)}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('Approved &#60;b&#62;&#38;&#60;/b&#62; done');
    expect(page.body).not.toContain('<script');
    expect(await f.result).toBe('allowed');
    expect(f.events).toEqual([{ kind: 'ceremony', url: `https://duo.example/authorize?redirect_uri=${encodeURIComponent(uri)}`, message: 'Complete the prompt', deadline: expect.any(Number) }]);
    expect(f.seen).toEqual([{ params: { duo_code: 'abc', state: 'good' }, redirectUri: uri }]);
    expect(await portOpen(port)).toBe(false);
  });

  it('refuses another Host, another path and another method, and keeps waiting; then 410 after the one', async () => {
    const f = start();
    const uri = await f.uri;
    const u = new URL(uri);
    expect((await send(`${uri}?state=good`, { host: `localhost:${u.port}` })).status).toBe(421);
    expect((await send(`${u.origin}/other?state=good`)).status).toBe(404);
    expect((await send(`${uri}?state=good`, { method: 'POST' })).status).toBe(405);
    expect(f.seen).toEqual([]);
    const first = send(`${uri}?state=bad`);
    expect((await first).body).toContain('ssrun: logged in');
    expect(await f.result).toBe('denied');
  });

  it('a second request while the first is being judged gets 410', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let gotUri!: (u: string) => void;
    const uri = new Promise<string>((resolve) => (gotUri = resolve));
    const result = loopbackRedirect(
      { subject: 's', message: 'm', deadline: Date.now() + 10_000, build: async (r) => (gotUri(r), 'https://duo.example/') },
      async () => {
        await held;
        return { result: 1, page: { ok: false, message: 'denied' } };
      },
    );
    const first = send(`${await uri}?state=a`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await send(`${await uri}?state=b`)).status).toBe(410);
    release();
    expect((await first).body).toContain('ssrun: login failed');
    expect(await result).toBe(1);
  });

  it('the deadline ends it with MFA_TIMEOUT and closes the port', async () => {
    const f = start({ ms: 500 });
    const port = Number(new URL(await f.uri).port);
    await expect(f.result).rejects.toMatchObject({ code: 'MFA_TIMEOUT' });
    expect(await portOpen(port)).toBe(false);
  });

  it('the signal ends it with CANCELLED', async () => {
    const abort = new AbortController();
    const f = start({ signal: abort.signal });
    await f.uri;
    abort.abort();
    const e = await f.result.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SsrunError);
    expect((e as SsrunError).code).toBe('CANCELLED');
  });
});
