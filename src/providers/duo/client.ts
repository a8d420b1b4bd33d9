// Duo Auth API v2 (S18–S22): preauth, then the passcode or factor the user chose, polling an async push or
// call while it waits; every unexpected answer is a denial or a PROVIDER_* error. Never fails open. The
// signed transport is in transport.ts.

import { Agent } from 'node:https';
import { SsrunError } from '../../core/errors.js';
import { sanitizeLine } from '../../core/validate.js';
import { call as callWith, duoPinnedCa, fail, readCaFile, settings, type Cfg, type DuoClientDeps, type Json } from './transport.js';
import type { DuoAuthApi, DuoMethod, DuoRequestContext, Factor, ProviderOutcome } from './types.js';

export { duoPinnedCa, type DuoClientDeps } from './transport.js';

/** What Duo's `device: 'auto'` uses for this factor: the first device able to (a push first, for auto). */
function waitingOn(preauth: Json, factor: 'push' | 'phone' | 'auto'): { factor: 'push' | 'phone'; device: string | undefined } {
  const devices: Json[] = Array.isArray(preauth.devices) ? preauth.devices : [];
  const able = (cap: string) => devices.find((d) => Array.isArray(d?.capabilities) && d.capabilities.includes(cap));
  const kind = factor === 'auto' ? (able('push') || !able('phone') ? 'push' : 'phone') : factor;
  const d = able(kind);
  const label = [d?.display_name, d?.name, d?.number].find((x): x is string => typeof x === 'string' && x.trim() !== '');
  // Duo masks the number as XXX-XXX-0100: its last digits are what tells two phones apart.
  return { factor: kind, device: label === undefined ? undefined : sanitizeLine(label.replace(/X{3}-X{3}-(\d{4})/g, '…$1'), 60) };
}

export function createDuoProvider(deps: DuoClientDeps = {}): DuoAuthApi {
  const cfg = settings(deps);
  const { now, sleep, pollIntervalMs } = cfg;
  const call = (...args: Parameters<typeof callWith> extends [Cfg, ...infer R] ? R : never) => callWith(cfg, ...args);

  function userParam(id: string): Record<string, string> {
    return /^DU[A-Z0-9]{18}$/.test(id) ? { user_id: id } : { username: id };
  }

  function capabilities(preauth: Json): Factor[] {
    const caps = new Set<string>();
    for (const d of Array.isArray(preauth.devices) ? preauth.devices : []) for (const c of Array.isArray(d?.capabilities) ? d.capabilities : []) caps.add(String(c));
    const out: Factor[] = [];
    if (caps.has('push')) out.push('push');
    if (caps.has('phone')) out.push('phone');
    if (caps.has('sms')) out.push('sms');
    return out;
  }

  return {
    async authenticate(ctx: DuoRequestContext): Promise<ProviderOutcome> {
      const opts = ctx.options;
      const ca = opts.CaFile ? await readCaFile(opts.CaFile, opts.Host) : duoPinnedCa();
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
      const clock = { offsetMs: 0, retriedSkew: false };
      try {
        const user = userParam(ctx.providerUserId);
        const pre = await call(opts, agent, 'POST', '/auth/v2/preauth', user, ctx, clock);
        const statusMsg = typeof pre.status_msg === 'string' ? sanitizeLine(pre.status_msg) : '';
        switch (pre.result) {
          case 'auth':
            break;
          case 'allow':
            return { result: 'allow', factor: 'bypass', bypass: true, message: statusMsg };
          case 'deny':
            return { result: 'deny', reason: 'policy', message: statusMsg };
          case 'enroll':
            return { result: 'deny', reason: 'enroll', message: statusMsg };
          default:
            fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo's preauth answered an unknown result ${JSON.stringify(sanitizeLine(String(pre.result), 40))}`);
        }

        let method: DuoMethod | undefined = ctx.method;
        if (!method) {
          if (!ctx.chooseFactor) throw new SsrunError('MFA_REQUIRED', 'MFA required: pass -m with a passcode or one of push, phone, sms, auto');
          method = await ctx.chooseFactor(capabilities(pre));
        }

        if (method.kind === 'passcode') {
          const res = await call(opts, agent, 'POST', '/auth/v2/auth', { ...user, factor: 'passcode', passcode: method.passcode }, ctx, clock);
          if (res.result === 'allow') return { result: 'allow', factor: 'passcode', bypass: false, message: '' };
          if (res.result === 'deny') return { result: 'deny', reason: 'invalid_passcode', message: typeof res.status_msg === 'string' ? sanitizeLine(res.status_msg) : '' };
          fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo's auth answered an unknown result for a passcode`);
        }

        const factor = method.factor;
        if (factor === 'sms') {
          const res = await call(opts, agent, 'POST', '/auth/v2/auth', { ...user, factor: 'sms', device: 'auto' }, ctx, clock);
          if (res.result === 'deny' && res.status === 'sent') return { result: 'deny', reason: 'sms_sent', message: typeof res.status_msg === 'string' ? sanitizeLine(res.status_msg) : '' };
          if (res.result === 'deny') return { result: 'deny', reason: 'denied', message: typeof res.status_msg === 'string' ? sanitizeLine(res.status_msg) : '' };
          fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo's auth answered an unexpected result for sms`);
        }

        const started = await call(opts, agent, 'POST', '/auth/v2/auth', { ...user, factor, device: 'auto', async: '1' }, ctx, clock);
        const txid = started.txid;
        if (typeof txid !== 'string' || txid === '') fail('PROVIDER_UNAVAILABLE', opts.Host, 'Duo started no transaction (no txid)');
        const on = waitingOn(pre, factor);
        const where = on.device ?? (on.factor === 'phone' ? 'your phone' : 'your device');
        ctx.onProgress?.({ kind: 'waiting', ...on, deadline: ctx.deadline, message: on.factor === 'phone' ? `Calling ${where}` : `Waiting for approval on ${where}` });
        let lastMsg = '';
        for (;;) {
          let st: Json;
          try {
            st = await call(opts, agent, 'GET', '/auth/v2/auth_status', { txid }, ctx, clock);
          } catch (e) {
            // The login's deadline fell during a poll: the device did not answer in time (not Duo being down).
            if (e instanceof SsrunError && e.detail?.loginDeadline === true) return { result: 'deny', reason: 'timeout', message: '' };
            throw e;
          }
          const msg = typeof st.status_msg === 'string' ? sanitizeLine(st.status_msg) : '';
          if (st.result === 'allow') return { result: 'allow', factor, bypass: false, message: msg };
          if (st.result === 'deny') return { result: 'deny', reason: st.status === 'fraud' ? 'fraud' : 'denied', message: msg };
          if (st.result !== 'waiting') fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo's auth_status answered an unknown result`);
          if (msg && msg !== lastMsg) ctx.onProgress?.({ kind: 'info', message: msg });
          lastMsg = msg;
          const wait = Math.min(pollIntervalMs, ctx.deadline - now());
          if (wait <= 0) return { result: 'deny', reason: 'timeout', message: '' };
          await sleep(wait, ctx.signal);
          if (now() >= ctx.deadline) return { result: 'deny', reason: 'timeout', message: '' };
        }
      } finally {
        agent.destroy();
      }
    },

    async check(opts, ctx) {
      const ca = opts.CaFile ? await readCaFile(opts.CaFile, opts.Host) : duoPinnedCa();
      const agent = new Agent({ keepAlive: false, ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
      try {
        const res = await call(opts, agent, 'GET', '/auth/v2/check', {}, { options: opts, providerUserId: '', method: undefined, ...ctx }, { offsetMs: 0, retriedSkew: false });
        if (typeof res.time !== 'number') fail('PROVIDER_UNAVAILABLE', opts.Host, "Duo's check answered without its time");
      } catch (e) {
        // The transport speaks of logins; this is a check of the keys.
        if (e instanceof SsrunError) throw new SsrunError(e.code, e.message.replace(/^login denied: /, ''), e.detail);
        throw e;
      } finally {
        agent.destroy();
      }
    },
  };
}
