// Strict, helpful validation of everything that comes from outside. Each error names the field, says
// what was received and what was expected, and never echoes a secret value.

import { SsrunError, type ErrorCode } from './errors.js';
import { EFFECTS, OPERATIONS, type Effect, type Operation, type PrincipalRef, type PrincipalType } from './model.js';

export const MAX_INPUT_BYTES = 64 * 1024;
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_CHARS = 8;
const MAX_OPTION_CHARS = 1024;

const CONFIG_NAME_RE = /^[A-Za-z0-9 ._@+-]{1,120}$/;
const PRINCIPAL_NAME_RE = /^[A-Za-z0-9._@+-]{1,120}$/;

/**
 * What must never reach a terminal or the audit as itself (S24, S25): C0 and C1 controls, DEL, the line and
 * paragraph separators, and the bidirectional controls and marks (a name must not read as another sentence).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** Whether the text holds a control or bidirectional character (escaped before any terminal or the audit sees it). */
export const hasUnsafe = (text: string) => new RegExp(UNSAFE.source).test(text);
const escapeUnsafe = (text: string) => text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Quote a value received from outside for a message: JSON quoting, with every unsafe character escaped. */
export function shown(value: unknown, max = 60): string {
  let s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  if (s.length > max) s = `${s.slice(0, max)}…`;
  // JSON.stringify escapes the C0 controls; the bidirectional ones and C1 are escaped here.
  return escapeUnsafe(JSON.stringify(s));
}

/** Escape text from outside (Duo status_msg, names, paths) for a terminal or a log line: no CR/LF, escapes or bidi. */
export function sanitizeLine(text: string, max = 200): string {
  const clean = escapeUnsafe(text);
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export function fail(code: ErrorCode, message: string): never {
  throw new SsrunError(code, message);
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function suggestion(key: string, known: readonly string[]): string {
  let best = '';
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? `; did you mean ${shown(best)}?` : `; expected one of: ${known.join(', ')}`;
}

/**
 * Reads the keys of an object case-insensitively against a known list. Unknown keys and keys given twice
 * (in different cases) are errors naming the field path.
 */
export function pickKeys(obj: Record<string, unknown>, known: readonly string[], where: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(obj)) {
    const canonical = known.find((k) => k.toLowerCase() === key.toLowerCase());
    const field = where ? `${where}.${key}` : key;
    if (!canonical) fail('INVALID_CONFIG', `${field}: unknown key${suggestion(key, known)}`);
    if (out.has(canonical)) fail('INVALID_CONFIG', `${field}: given twice (keys are case-insensitive)`);
    out.set(canonical, value);
  }
  return out;
}

export function requireString(value: unknown, field: string, opts: { secret?: boolean; max?: number } = {}): string {
  if (value === undefined) fail('INVALID_CONFIG', `${field}: required, but missing`);
  if (typeof value !== 'string') fail('INVALID_CONFIG', `${field}: expected a string, received ${typeName(value)}`);
  const trimmed = value.trim();
  if (trimmed === '') fail('INVALID_CONFIG', `${field}: must not be empty`);
  const max = opts.max ?? MAX_OPTION_CHARS;
  if (trimmed.length > max) fail('INVALID_CONFIG', `${field}: ${trimmed.length} characters, at most ${max} allowed`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) {
    fail('INVALID_CONFIG', `${field}: contains control characters${opts.secret ? '' : ` (received ${shown(trimmed)})`}`);
  }
  return trimmed;
}

export function validateConfigName(value: unknown, field = 'Name'): string {
  if (typeof value !== 'string') fail('INVALID_NAME', `${field}: expected a string, received ${typeName(value)}`);
  const name = value.trim();
  if (!CONFIG_NAME_RE.test(name) || name === '.' || name === '..') {
    fail('INVALID_NAME', `${field}: ${shown(value)} is not a valid name; expected 1–120 characters of letters, digits, space and . _ @ + -`);
  }
  return name;
}

export function integerIn(value: unknown, field: string, allowed: (n: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail('INVALID_CONFIG', `${field}: expected a whole number (${expected}), received ${typeName(value)}${typeof value === 'number' ? ` ${value}` : ''}`);
  if (!allowed(value)) fail('INVALID_CONFIG', `${field}: ${value} is out of range; expected ${expected}`);
  return value;
}

/** Decodes JSON text, reporting line and column of a syntax error. */
export function parseJsonText(text: string, source: string): unknown {
  if (text.length > MAX_INPUT_BYTES) fail('INPUT_TOO_LARGE', `${source}: ${text.length} bytes, at most ${MAX_INPUT_BYTES} allowed`);
  const src = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(src);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (src.trim() === '') fail('INVALID_JSON', `${source}: is empty; expected a JSON object`);
    const pos = /position (\d+)/.exec(message);
    // For an unexpected token V8 gives no position but quotes up to 10 characters either side of it, which may
    // be part of a secret: locate the token from that context, and never repeat the context.
    const context = /, (\.\.\.)?"(.*)"(\.\.\.)? is not valid JSON$/s.exec(message);
    let offset: number | undefined;
    if (pos) offset = Number(pos[1]);
    else if (context && (context[1] || context[3]) && src.includes(context[2]!)) offset = context[1] ? src.indexOf(context[2]!) + 10 : context[2]!.length - 10;
    else if (/^Unexpected end of JSON input/.test(message)) offset = src.trimEnd().length;
    let where = '';
    if (offset !== undefined) {
      const before = src.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    }
    const reason =
      message
        .replace(/\s*(in JSON )?at position \d+.*$/s, '')
        .replace(/ \(line \d+ column \d+\)$/, '')
        .replace(/,? ?(\.\.\.)?"[^]*"(\.\.\.)? is not valid JSON$/, '')
        .replace(/^Unexpected token .*$/s, 'Unexpected token') || 'not valid JSON';
    fail('INVALID_JSON', `${source}: malformed JSON${where}: ${reason}`);
  }
}

export function parsePrincipalPath(value: unknown): PrincipalRef {
  if (typeof value !== 'string' || value === '') fail('INVALID_PRINCIPAL', 'principal: required; expected principal/internal/user/NAME or principal/internal/application/NAME');
  const parts = value.split('/');
  if (parts.length !== 4 || parts[0] !== 'principal' || parts[1] !== 'internal' || parts[2] === '' || parts[3] === '') {
    fail('INVALID_PRINCIPAL', `principal: ${shown(value)} is not a principal path; expected principal/internal/user/NAME or principal/internal/application/NAME`);
  }
  const type = parts[2]!;
  if (type !== 'user' && type !== 'application') {
    fail('UNSUPPORTED_PRINCIPAL_TYPE', `principal: ${shown(value)} is a ${shown(type)} principal; only user and application principals support MFA`);
  }
  return { type, name: validatePrincipalName(parts[3]!, type), path: value };
}

export function validatePrincipalName(value: unknown, type: PrincipalType): string {
  // "." and ".." would be path segments, not names, in a server's URLs.
  if (typeof value !== 'string' || !PRINCIPAL_NAME_RE.test(value) || value === '.' || value === '..') {
    fail('INVALID_NAME', `${type} name: ${shown(value)} is not valid; expected 1–120 characters of letters, digits and . _ @ + -`);
  }
  return value;
}

export function validateProviderUserId(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') fail('USAGE', 'provider user id (-m): required; expected the principal\'s user id at the provider');
  const id = value.trim();
  if (id.length > 256 || !/^[\x21-\x7e]+$/.test(id)) fail('USAGE', `provider user id (-m): ${shown(id)} is not valid; expected up to 256 printable characters without spaces`);
  return id;
}

export const MIN_ROOT_PASSWORD_CHARS = 10;

export function validatePassword(password: string, field = 'password', minChars = MIN_PASSWORD_CHARS): string {
  const bytes = new TextEncoder().encode(password).length;
  if (bytes > MAX_PASSWORD_BYTES) fail('INVALID_PASSWORD', `${field}: ${bytes} bytes, at most ${MAX_PASSWORD_BYTES} allowed`);
  if ([...password].length < minChars) fail('INVALID_PASSWORD', `${field}: too short; at least ${minChars} characters required`);
  return password;
}

const RESOURCE_SEGMENT_RE = /^[A-Za-z0-9._@+-]{1,120}$/;

/** A resource path for authorizations: `system/multi_factor`, `principal/internal/user/bob`, …; no `..`. */
export function validateResource(value: unknown): string {
  if (typeof value !== 'string' || value === '') fail('USAGE', 'resource: required; expected a path such as system/multi_factor or principal/internal/user');
  const parts = value.split('/');
  if (value.length > 300 || parts.some((p) => !RESOURCE_SEGMENT_RE.test(p) || p === '.' || p === '..')) {
    fail('USAGE', `resource: ${shown(value)} is not a resource path; expected segments of letters, digits and . _ @ + - separated by /, such as system/multi_factor`);
  }
  if (parts[0] !== 'system' && parts[0] !== 'principal') fail('USAGE', `resource: ${shown(value)} is not a known resource; expected system/… or principal/…`);
  return value;
}

export function validateOperation(value: unknown): Operation {
  if (typeof value !== 'string' || !(OPERATIONS as readonly string[]).includes(value)) fail('USAGE', `operation (-o): expected one of ${OPERATIONS.join(', ')}, received ${shown(value)}`);
  return value as Operation;
}

export function validateEffect(value: unknown): Effect {
  if (typeof value !== 'string' || !(EFFECTS as readonly string[]).includes(value)) fail('USAGE', `effect (-a): expected allow or deny, received ${shown(value)}`);
  return value as Effect;
}

/** `--since`: an ISO 8601 date or date-time, or a duration back from now such as 30m, 12h, 7d. */
export function parseSince(value: string, now: Date): string {
  const rel = /^(\d{1,6})([smhd])$/.exec(value.trim());
  if (rel) {
    const ms = Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - ms).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const t = Date.parse(value.trim());
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  fail('USAGE', `--since: expected an ISO 8601 date (2026-11-23 or 2026-11-23T10:00:00Z) or a duration such as 30m, 12h, 7d, received ${shown(value)}`);
}

// ---- recovery codes and -m ------------------------------------------------------------------------------

/** Crockford's base32 alphabet (no i, l, o, u): what recovery codes are made of. */
export const RECOVERY_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const RECOVERY_RE = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;

/** A recovery code as typed (any case; i/l read as 1, o as 0), normalized; undefined when it is not one. */
export function normalizeRecoveryCode(value: string): string | undefined {
  const v = value.toLowerCase().replace(/[il]/g, '1').replace(/o/g, '0');
  return RECOVERY_RE.test(v) ? v : undefined;
}

export const MAX_METHOD_CHARS = 64;

/**
 * The shape every `-m` must have before anything is counted: what some provider could read, or a recovery
 * code. Which provider reads it is known only after the credentials are checked (S11: the answer must not
 * tell who uses what). Never echoes the value: it may be a passcode.
 */
export function checkMfaShape(value: string, accepts: (raw: string) => boolean, helps: readonly string[]): void {
  if (normalizeRecoveryCode(value) || accepts(value)) return;
  const why =
    value === ''
      ? 'is empty'
      : value.length > MAX_METHOD_CHARS
        ? `has ${value.length} characters, at most ${MAX_METHOD_CHARS} allowed`
        : /\s/.test(value)
          ? 'contains white space (a code is taken exactly as typed)'
          : /[^\x21-\x7e]/.test(value)
            ? 'contains characters other than ASCII letters and digits'
            : 'is not a code or factor any MFA configuration accepts';
  fail('INVALID_METHOD', `-m: ${why}; expected ${[...helps, 'or a recovery code (xxxx-xxxx-xxxx)'].join('; ')}`);
}

// ---- groups and policies ------------------------------------------------------------------------------------

export function validateGroupName(value: unknown, field = 'group name'): string {
  if (typeof value !== 'string' || !PRINCIPAL_NAME_RE.test(value) || value === '.' || value === '..') {
    fail('INVALID_NAME', `${field}: ${shown(value)} is not valid; expected 1–120 characters of letters, digits and . _ @ + -`);
  }
  return value;
}

export type TargetRef = { type: 'user' | 'application' | 'group'; name: string; path: string };

/** A policy target: principal/internal/user/NAME, principal/internal/application/NAME or principal/internal/group/NAME. */
export function parseTargetPath(value: unknown, field = 'Targets'): TargetRef {
  const expected = 'expected principal/internal/user/NAME, principal/internal/application/NAME or principal/internal/group/NAME';
  if (typeof value !== 'string') fail('INVALID_POLICY', `${field}: expected a string, received ${typeName(value)}; ${expected}`);
  const parts = value.split('/');
  if (parts.length !== 4 || parts[0] !== 'principal' || parts[1] !== 'internal' || !['user', 'application', 'group'].includes(parts[2]!)) {
    fail('INVALID_POLICY', `${field}: ${shown(value)} is not a target; ${expected}`);
  }
  const type = parts[2] as TargetRef['type'];
  const name = type === 'group' ? validateGroupName(parts[3], `${field} group name`) : validatePrincipalName(parts[3], type);
  return { type, name, path: `principal/internal/${type}/${name}` };
}

const POLICY_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const POLICY_KEYS = ['Name', 'Factors', 'EnrollWithinDays', 'ReverifyAfterHours', 'Targets', 'Active'] as const;

export function validatePolicyName(value: unknown, field = 'Name'): string {
  if (typeof value !== 'string' || !POLICY_NAME_RE.test(value)) {
    fail('INVALID_POLICY', `${field}: ${shown(value)} is not a policy name; expected 1–63 characters of a–z, 0–9 and -, starting with a letter`);
  }
  return value;
}

export interface PolicyDocument {
  Name: string | undefined;
  Factors: 'any' | 'phishing-resistant' | string[];
  EnrollWithinDays: number;
  ReverifyAfterHours: number | null;
  Targets: TargetRef[];
  /** Absent in the file: true for a new policy, unchanged for an update. */
  Active: boolean | undefined;
}

/** A policy file: keys in any case like configurations; every field checked and named when wrong. */
export function parsePolicyDocument(raw: unknown): PolicyDocument {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail('INVALID_POLICY', `expected a JSON object such as {"Name":"engineers","Factors":"any","Targets":[…]}, received ${typeName(raw)}`);
  }
  let keys: Map<string, unknown>;
  try {
    keys = pickKeys(raw as Record<string, unknown>, POLICY_KEYS, '');
  } catch (e) {
    throw new SsrunError('INVALID_POLICY', (e as Error).message);
  }
  const name = keys.has('Name') ? validatePolicyName(keys.get('Name')) : undefined;

  const f = keys.get('Factors') ?? 'any';
  let factors: PolicyDocument['Factors'];
  if (f === 'any' || f === 'phishing-resistant') factors = f;
  else if (Array.isArray(f)) {
    if (f.length === 0) fail('INVALID_POLICY', 'Factors: an empty list allows no factor at all; expected "any", "phishing-resistant" or configuration names');
    factors = f.map((n, i) => {
      try {
        return validateConfigName(n, `Factors[${i}]`);
      } catch (e) {
        throw new SsrunError('INVALID_POLICY', (e as Error).message);
      }
    });
  } else fail('INVALID_POLICY', `Factors: expected "any", "phishing-resistant" or a list of configuration names, received ${typeof f === 'string' ? shown(f) : typeName(f)}`);

  const int = (key: string, min: number, max: number, fallback: number | null): number | null => {
    if (!keys.has(key) || keys.get(key) === null) return fallback;
    const v = keys.get(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail('INVALID_POLICY', `${key}: expected a whole number from ${min} to ${max}, received ${typeof v === 'number' ? v : typeName(v)}`);
    }
    return v;
  };
  const enroll = int('EnrollWithinDays', 0, 365, 0)!;
  const reverify = int('ReverifyAfterHours', 1, 8760, null);

  const t = keys.get('Targets') ?? [];
  if (!Array.isArray(t)) fail('INVALID_POLICY', `Targets: expected a list of principal paths, received ${typeName(t)}`);
  if (t.length > 1000) fail('INVALID_POLICY', `Targets: ${t.length} targets, at most 1000 allowed`);
  const targets = t.map((x, i) => parseTargetPath(x, `Targets[${i}]`));

  const a = keys.has('Active') ? keys.get('Active') : undefined;
  if (a !== undefined && typeof a !== 'boolean') fail('INVALID_POLICY', `Active: expected true or false, received ${typeName(a)}`);
  return { Name: name, Factors: factors, EnrollWithinDays: enroll, ReverifyAfterHours: reverify, Targets: targets, Active: a };
}
