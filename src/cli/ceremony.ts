// Browser ceremonies for the CLI, for every factor that needs a browser: the one-shot loopback page the
// embedded store runs them on (loopbackCeremony), and what the CLI shows while one runs, wherever it is
// hosted (showCeremony: the URL on a line of its own, the browser opened, a countdown).

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import type { CeremonyAnswer, CeremonyRequest, KeyCeremonies } from '../core/ceremony.js';
import { SsrunError } from '../core/errors.js';
import type { ProgressEvent } from '../core/ports.js';
import { createSlot, MAX_BODY_BYTES, randomPath, waitingMessage, type Slot } from '../ceremony/slot.js';

export type CeremonyEvent = Extract<ProgressEvent, { kind: 'ceremony' }>;

/** Reads a request body, at most MAX_BODY_BYTES; undefined when it is larger. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string, close = false): Promise<void> {
  return new Promise((resolve) => {
    res.on('close', () => resolve());
    res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)), ...(close ? { connection: 'close' } : {}) });
    res.end(body, () => resolve());
  });
}

async function serveRequest(slot: Slot, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req).catch(() => undefined);
  if (body === undefined) {
    await send(res, 413, { 'content-type': 'text/plain; charset=utf-8' }, 'the body is too large\n', true);
    req.destroy();
    return;
  }
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const out = slot.handle({
    method: req.method ?? '',
    path: (req.url ?? '').split('?')[0] ?? '',
    host: header('host'),
    origin: header('origin'),
    contentType: header('content-type'),
    body,
  });
  await send(res, out.status, out.headers, out.body);
}

export const listen = (server: Server, host: string, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });

/**
 * Listens on 127.0.0.1 and on [::1] with the same port: a browser may try `localhost` as ::1 first, and that
 * address must not be left for another local user to take. A machine without IPv6 loopback has IPv4 only.
 */
async function listenBoth(make: () => Server): Promise<{ servers: Server[]; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const v4 = make();
    await listen(v4, '127.0.0.1', 0);
    const { port } = v4.address() as AddressInfo;
    const v6 = make();
    try {
      await listen(v6, '::1', port);
      return { servers: [v4, v6], port };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return { servers: [v4], port };
      v4.close();
      if (code !== 'EADDRINUSE' || attempt >= 9) throw e;
    }
  }
}

/** The embedded store's ceremonies: each on its own server on the loopback, at http://localhost:PORT/<secret>. */
export function loopbackCeremony(): KeyCeremonies {
  return {
    async run(req: CeremonyRequest): Promise<CeremonyAnswer> {
      if (req.signal?.aborted) throw new SsrunError('CANCELLED', 'cancelled');
      let slot: Slot | undefined;
      const inFlight = new Set<Promise<void>>();
      const make = () => {
        const s = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 1_000, maxHeaderSize: 16 * 1024 }, (request, response) => {
          if (!slot) {
            void send(response, 503, { 'content-type': 'text/plain; charset=utf-8' }, 'not ready\n', true);
            return;
          }
          const done = serveRequest(slot, request, response).catch(() => void response.destroy());
          inFlight.add(done);
          void done.finally(() => inFlight.delete(done));
        });
        s.maxRequestsPerSocket = 4;
        return s;
      };
      const { servers, port } = await listenBoth(make);
      for (const s of servers) s.on('error', () => undefined);
      const site = { rpId: 'localhost', origin: `http://localhost:${port}` };
      try {
        const options = await req.build(site);
        const path = randomPath();
        slot = createSlot({ site, host: `localhost:${port}`, path, kind: req.kind, title: req.title, options, deadline: req.deadline, ...(req.signal ? { signal: req.signal } : {}) });
        const message = waitingMessage(req.kind);
        req.onProgress?.({ kind: 'ceremony', url: `${site.origin}${path}`, message, deadline: req.deadline });
        return await slot.answer;
      } finally {
        slot?.close();
        // Stop listening now; let the answer's 200 reach the page (briefly), then drop every connection.
        const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
        await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, 500).unref())]);
        for (const s of servers) s.closeAllConnections();
        await closed;
      }
    },
  };
}

// ---- showing a ceremony ---------------------------------------------------------------------------------

export interface ShowIo {
  notice(text: string): void;
  stderrIsTTY: boolean;
}

export interface ShowOptions {
  noBrowser?: boolean;
  /** Where BROWSER and PATH are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** For tests. */
  platform?: NodeJS.Platform;
  now?: () => number;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** The program on PATH, as an absolute path, if it is there and executable. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** What to run to open the URL: BROWSER (a program and its arguments, split on spaces), else the platform's opener. */
function opener(url: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): { file: string; args: string[]; verbatim?: boolean } | undefined {
  const browser = env.BROWSER?.trim();
  if (browser) {
    const [file, ...args] = browser.split(/\s+/);
    return file ? { file, args: [...args, url] } : undefined;
  }
  if (platform === 'darwin') return { file: 'open', args: [url] };
  // cmd parses its command line: only a URL with no metacharacter goes through it.
  if (platform === 'win32') return /^[A-Za-z0-9:/._~\-[\]]+$/.test(url) ? { file: 'cmd', args: ['/c', 'start', '""', url], verbatim: true } : undefined;
  const xdg = onPath('xdg-open', env);
  return xdg ? { file: xdg, args: [url] } : undefined;
}

/**
 * Shows a ceremony on stderr: the URL on a line of its own, then opens it in the browser (BROWSER, or the
 * platform's opener; not with --no-browser or BROWSER=none), then the message and the time left: a countdown
 * updated every second on a terminal, one line otherwise. stop() ends the countdown.
 */
export function showCeremony(event: CeremonyEvent, io: ShowIo, opts: ShowOptions = {}): { stop(): void } {
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  let parsed: URL | undefined;
  try {
    parsed = new URL(event.url);
  } catch {
    parsed = undefined;
  }
  const url = parsed?.href ?? event.url.replace(CONTROL, '');
  const message = event.message.replace(CONTROL, '');
  const left = () => `${message} (${Math.max(0, Math.ceil((event.deadline - now()) / 1000))} s left, Ctrl-C to cancel)`;
  let stopped = false;
  let drawn = false;
  const clearLine = () => {
    if (drawn) process.stderr.write('\r\x1b[2K');
    drawn = false;
  };
  const notice = (text: string) => {
    if (stopped) return;
    clearLine();
    io.notice(text);
  };

  process.stderr.write(`${url}\n`);
  const wanted = !opts.noBrowser && env.BROWSER?.trim() !== 'none';
  if (wanted) {
    const web = parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:');
    const cmd = web ? opener(url, env, opts.platform ?? process.platform) : undefined;
    if (!cmd) notice('could not open a browser: open the URL above');
    else openWith(cmd, () => notice('could not open a browser: open the URL above'));
  }

  let timer: NodeJS.Timeout | undefined;
  if (io.stderrIsTTY) {
    const draw = () => {
      if (stopped) return;
      process.stderr.write(`\r\x1b[2Kssrun: ${left()}`);
      drawn = true;
      if (now() >= event.deadline && timer) clearInterval(timer);
    };
    draw();
    timer = setInterval(draw, 1000);
    timer.unref();
  } else {
    io.notice(left());
  }
  return {
    stop() {
      if (stopped) return;
      if (timer) clearInterval(timer);
      clearLine();
      stopped = true;
    },
  };
}

/** Runs the opener detached, never through a shell; calls failed() if it cannot start or exits non-zero. */
function openWith(cmd: { file: string; args: string[]; verbatim?: boolean }, failed: () => void): void {
  try {
    const child = spawn(cmd.file, cmd.args, { detached: true, stdio: 'ignore', shell: false, windowsHide: true, ...(cmd.verbatim ? { windowsVerbatimArguments: true } : {}) });
    child.once('error', failed);
    child.once('exit', (code) => {
      if (code !== 0) failed();
    });
    child.unref();
  } catch {
    failed();
  }
}
