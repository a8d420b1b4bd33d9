// Server addresses for contexts and SECRETSSAFE_HOST: https by default; plain http only to a loopback host,
// so a token or password never crosses a network in clear.

import { SsrunError } from '../core/errors.js';

const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\])$/i;
const HOST_RE = /^(\[[0-9a-fA-F:]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:]*|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$/;

export const isLoopbackHost = (host: string) => LOOPBACK_HOST.test(host);

export interface Address {
  scheme: 'https' | 'http';
  host: string;
  port: number;
}

/** `-a HOST` (optionally http:// or https://) and `-p PORT`, checked; flags name the fields in errors. */
export function parseAddress(hostArg: string, portArg: string, hostFlag = '-a', portFlag = '-p'): Address {
  let host = hostArg.trim();
  let scheme: 'https' | 'http' = 'https';
  const m = /^(https?):\/\/(.*?)\/?$/i.exec(host);
  if (m) {
    scheme = m[1]!.toLowerCase() as 'https' | 'http';
    host = m[2]!;
  }
  if (!HOST_RE.test(host) || host.length > 253) throw new SsrunError('USAGE', `${hostFlag}: ${JSON.stringify(hostArg).slice(0, 80)} is not a host name or address (no path, no port: pass the port with ${portFlag})`);
  if (!/^\d{1,5}$/.test(portArg.trim()) || Number(portArg) < 1 || Number(portArg) > 65535) throw new SsrunError('USAGE', `${portFlag}: expected a port from 1 to 65535, received ${JSON.stringify(portArg).slice(0, 40)}`);
  host = host.replace(/^\[(.*)\]$/, '$1');
  if (scheme === 'http' && !isLoopbackHost(host)) {
    throw new SsrunError('USAGE', `${hostFlag}: plain http:// is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https`);
  }
  return { scheme, host, port: Number(portArg) };
}

export function urlOf(a: Address): string {
  return `${a.scheme}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export function serverUrl(hostArg: string, portArg: string, hostFlag: string, portFlag: string): string {
  return urlOf(parseAddress(hostArg, portArg, hostFlag, portFlag));
}
