// The characters that must never reach a terminal or the audit as themselves (S24, S25), as the issue lists
// them: C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F), U+061C, U+200E, U+200F, U+2028, U+2029,
// U+202A–U+202E and U+2066–U+2069. And a hostile Duo Auth API (HTTPS on 127.0.0.1) whose status_msg carries
// whichever of them a test asks for: test/fakes/duo-server.ts answers one fixed EVIL_STATUS_MSG only.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from './tls.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every code point of the list, in order. */
export const UNSAFE_CODE_POINTS: readonly number[] = [
  ...range(0x00, 0x1f),
  ...range(0x7f, 0x9f),
  0x061c,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  ...range(0x202a, 0x202e),
  ...range(0x2066, 0x2069),
];

const UNSAFE_SET = new Set(UNSAFE_CODE_POINTS);

/** All of them in one string (a status_msg holding every one). */
export const ALL_UNSAFE = String.fromCodePoint(...UNSAFE_CODE_POINTS);

/** A hostile status_msg: readable text around every unsafe character. */
export const HOSTILE_STATUS_MSG = `Access denied${ALL_UNSAFE}ssrun: login OK\u202egnp.exe`;

export const hex = (cp: number) => cp.toString(16).padStart(4, '0');

/** The unsafe characters found raw in a text, as U+XXXX (empty when none). */
export function rawUnsafe(text: string): string[] {
  const found = new Set<string>();
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (UNSAFE_SET.has(cp)) found.add(`U+${hex(cp).toUpperCase()}`);
  }
  return [...found];
}

/** rawUnsafe, but a trailing LF (the end of an output line) is allowed, and so are the LFs between lines. */
export function rawUnsafeInLines(text: string): string[] {
  return rawUnsafe(text.replace(/\n/g, ''));
}

// ---- a hostile Duo ------------------------------------------------------------------------------------------

export interface HostileDuo {
  host: string;
  caFile: string;
  /** Options for a duo configuration pointing at it (keys are not checked by this fake). */
  options(): { IntegrationKey: string; SecretKey: string; Host: string; CaFile: string };
  /** How many requests it answered, by path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/**
 * The status_msg for a Duo username: `deny-XXXX` / `push-XXXX` carry U+XXXX between words, `deny-all` /
 * `push-all` carry HOSTILE_STATUS_MSG.
 */
export function messageFor(username: string): string {
  const tail = username.split('-').slice(1).join('-').split('#')[0]!;
  if (tail === 'all') return HOSTILE_STATUS_MSG;
  return `Access denied${String.fromCodePoint(parseInt(tail, 16))}ssrun: login OK`;
}

/** A Duo that denies `deny-…` users at preauth with a hostile status_msg, and pushes `push-…` users (a waiting poll with it, then allow). */
export async function startHostileDuo(skey: string): Promise<HostileDuo> {
  const { caPem, key, cert } = await makeCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'ssrun-hostile-duo-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caPem);
  const hits = new Map<string, number>();
  const polls = new Map<string, number>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://duo.invalid');
      const params = new URLSearchParams(req.method === 'GET' ? url.search : Buffer.concat(chunks).toString('utf8'));
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      const send = (response: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ stat: 'OK', response }));
      };
      const user = params.get('username') ?? '';
      switch (url.pathname) {
        case '/auth/v2/ping':
          return send({ time: Math.floor(Date.now() / 1000) });
        case '/auth/v2/preauth':
          if (user.startsWith('push-')) {
            return send({ result: 'auth', status_msg: 'Account is active', devices: [{ device: 'DPFZRS9FB0D46QFTM891', type: 'phone', name: 'phone', capabilities: ['auto', 'push'] }] });
          }
          return send({ result: 'deny', status_msg: messageFor(user) });
        case '/auth/v2/auth':
          return send({ txid: `txid-${user}` });
        case '/auth/v2/auth_status': {
          const txid = params.get('txid') ?? '';
          const n = (polls.get(txid) ?? 0) + 1;
          polls.set(txid, n);
          const msg = messageFor(txid.replace(/^txid-/, ''));
          return send(n < 2 ? { result: 'waiting', status: 'pushed', status_msg: msg } : { result: 'allow', status: 'allow', status_msg: msg });
        }
        default:
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ stat: 'FAIL', code: 40401, message: 'no such path' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    caFile,
    hits,
    options: () => ({ IntegrationKey: 'DIHOSTILE00000000000', SecretKey: skey, Host: host, CaFile: caFile }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
