// Figure 5 of npm run bench: is the event loop of `ssrun serve` free during a write burst? Over HTTPS (a test
// certificate), idle first, then while 40 writers create configurations as fast as they are answered (each on a
// keep-alive connection of its own):
//  a. probes: 20 new connections, one after the other, each timed from connect to the end of its first
//     GET /whoami (TLS handshake, token check): p99 during the burst against idle (target <= 10x);
//  b. reads: GET /multi_factor/NAME (one configuration: the burst makes the list grow), autocannon, 10
//     connections: req/s during the burst against idle (target >= 0.5x).
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServe, useTsHooks } from './server.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ssrun');
const API = '/secretssafe/api/v1';
const ROOT_PASSWORD = 'root-password-for-the-bench-Vb4';
const WRITERS = 40;
const PROBES = 20;

function send(base, ca, method, path, { token, body, agent = false } = {}) {
  const u = new URL(`${base}${API}${path}`);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolveRes, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, ca, agent, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(data ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolveRes({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** PROBES new connections, one at a time, 50 ms apart: each one's first GET /whoami, in ms. */
async function probes(base, ca, token) {
  const out = [];
  for (let i = 0; i < PROBES; i++) {
    const t0 = performance.now();
    const r = await send(base, ca, 'GET', '/whoami', { token });
    if (r.status !== 200) throw new Error(`whoami: HTTP ${r.status}`);
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  out.sort((a, b) => a - b);
  return { p50: out[Math.floor(out.length / 2)], p99: out[Math.min(out.length - 1, Math.floor(0.99 * out.length))] };
}

async function reads(base, ca, token, seconds) {
  const r = await autocannon({ url: `${base}${API}/multi_factor/Burst-Read`, headers: { authorization: `Bearer ${token}` }, connections: 10, duration: seconds, tlsOptions: { ca } });
  return { rps: r.requests.average, p99: r.latency.p99, bad: r.non2xx + r.errors };
}

export async function burstBench({ scratch, seconds = Number(process.env.BENCH_SERVE_SECONDS ?? 10) }) {
  useTsHooks();
  const { makeCertificate } = await import(pathToFileURL(join(ROOT, 'test', 'helpers', 'tls.ts')).href);
  const { caPem: ca, key, cert } = await makeCertificate();
  const home = join(scratch, 'burst');
  execFileSync(process.execPath, [BIN, 'init', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env: { ...process.env, SSRUN_HOME: home, NO_COLOR: '1' }, stdio: ['pipe', 'ignore', 'pipe'] });
  writeFileSync(join(scratch, 'burst-cert.pem'), cert);
  writeFileSync(join(scratch, 'burst-key.pem'), key);
  const server = await startServe(['--home', home, '--tls-cert', join(scratch, 'burst-cert.pem'), '--tls-key', join(scratch, 'burst-key.pem')]);
  const base = server.url;
  const config = (name) => ({ Type: 'duo', Name: name, Options: { IntegrationKey: 'DIBURST0000000000000', SecretKey: 'burst-secret-key-xxxxxxxxxxxxxxxxxxxxxxxx', Host: 'api-burst.duosecurity.com' } });
  let stop = false;
  try {
    const login = await send(base, ca, 'POST', '/connect/token/internal', { body: { username: 'root', password: ROOT_PASSWORD } });
    const token = login.body.access_token;
    if ((await send(base, ca, 'POST', '/multi_factor', { token, body: config('Burst-Read') })).status !== 201) throw new Error('could not create Burst-Read');
    const idle = { probes: await probes(base, ca, token), reads: await reads(base, ca, token, seconds) };
    let created = 0;
    let failed = 0;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; !stop; i++) {
        const r = await send(base, ca, 'POST', '/multi_factor', { token, body: config(`Burst-${w}-${i}`), agent });
        if (r.status === 201) created++;
        else failed++;
      }
      agent.destroy();
    });
    await new Promise((r) => setTimeout(r, 500)); // the burst under way
    const t0 = performance.now();
    const during = { probes: await probes(base, ca, token), reads: await reads(base, ca, token, seconds) };
    const writeSeconds = (performance.now() - t0) / 1000;
    const before = created;
    stop = true;
    await Promise.all(writers);
    return { idle, during, writes: { rps: before / writeSeconds, failed }, seconds };
  } finally {
    stop = true;
    await server.stop();
  }
}

export function printBurstBench({ idle, during, writes, seconds }, indent = '   ') {
  const n = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  console.log(`5. event loop during a burst: ssrun serve over HTTPS, ${WRITERS} writers creating configurations (${n(writes.rps, 1)}/s, ${writes.failed} failed)`);
  console.log(`${indent}new connection + first GET /whoami, p99 of ${PROBES}: idle ${n(idle.probes.p99, 1)} ms, burst ${n(during.probes.p99, 1)} ms: ratio ${n(during.probes.p99 / idle.probes.p99, 2)} (target <= 10)   (p50 ${n(idle.probes.p50, 1)} / ${n(during.probes.p50, 1)} ms)`);
  console.log(`${indent}reads GET /multi_factor/NAME, 10 connections, ${seconds} s: idle ${n(idle.reads.rps, 1)}/s (p99 ${n(idle.reads.p99)} ms), burst ${n(during.reads.rps, 1)}/s (p99 ${n(during.reads.p99)} ms): ratio ${n(during.reads.rps / idle.reads.rps, 2)} (target >= 0.5)${idle.reads.bad + during.reads.bad ? `   ! ${idle.reads.bad + during.reads.bad} failed reads` : ''}`);
}
