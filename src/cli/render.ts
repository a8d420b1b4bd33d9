// Results go to stdout: JSON by default (what scripts pipe), a table for people with -o table, the same
// for every command that prints a result (-o is read once, by the tree's run(), see setOutput). Tables fit
// the terminal (long columns wrapped); an empty list is `[]` in JSON and "no …" on stderr in a table.

import { sanitizeLine } from '../core/validate.js';
import { io } from './context.js';
import { SsrunError } from '../core/errors.js';

export type OutputFormat = 'json' | 'table';

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'json') return 'json';
  if (value === 'table') return 'table';
  throw new SsrunError('USAGE', `--output: expected json or table, received ${JSON.stringify(value)}`);
}

/** The format of this command's result (-o), set once before its action runs. */
let chosen: OutputFormat = 'json';
export const setOutput = (format: OutputFormat) => void (chosen = format);

export function printJson(value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' && x !== null ? cell(Object.values(x)[0]) : cell(x))).join('\n');
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${sanitizeLine(k, 200)}: ${cell(x)}`).join('\n');
  }
  // Text from a store or a server, escaped (control and bidirectional characters) before a terminal sees it.
  return sanitizeLine(String(v), 10_000);
}

const displayWidth = (line: string) => [...line].length;

/** Wraps each line at spaces to `width` characters; a word longer than that is cut into pieces (nothing is lost). */
export function wrapText(text: string, width: number): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    let current = '';
    for (const word of line.split(' ')) {
      let w = word;
      const sep = current === '' ? '' : ' ';
      if (displayWidth(current) + sep.length + displayWidth(w) <= width) {
        current += sep + w;
        continue;
      }
      if (current !== '') out.push(current);
      current = '';
      while (displayWidth(w) > width) {
        const chars = [...w];
        out.push(chars.slice(0, width).join(''));
        w = chars.slice(width).join('');
      }
      current = w;
    }
    out.push(current);
  }
  return out.join('\n');
}

/**
 * Content widths (padding excluded) that fit `total` columns of terminal with `n + 1` borders and one space
 * of padding each side: narrow columns keep their width, the others share what is left. undefined: it fits.
 */
export function fitWidths(natural: number[], total: number | undefined): number[] | undefined {
  const padded = natural.map((w) => w + 2);
  if (total === undefined || padded.reduce((a, b) => a + b, 0) + natural.length + 1 <= total) return undefined;
  const widths = new Array<number>(natural.length).fill(0);
  let room = total - (natural.length + 1);
  const order = natural.map((_, i) => i).sort((a, b) => padded[a]! - padded[b]!);
  order.forEach((i, k) => {
    const share = Math.floor(room / (order.length - k));
    widths[i] = Math.min(padded[i]!, Math.max(5, share));
    room -= widths[i]!;
  });
  return widths.map((w) => w - 2);
}

/** The terminal's width when stdout is one; none otherwise (a table piped keeps its natural width). */
const terminalColumns = (): number | undefined => (io.stdoutIsTTY && process.stdout.columns ? process.stdout.columns : undefined);

export async function printTable(rows: Record<string, unknown>[]): Promise<void> {
  const { default: Table } = await import('cli-table3');
  const head = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  let body = rows.map((r) => head.map((h) => cell(r[h])));
  let heads = head;
  const natural = head.map((h, i) => Math.max(displayWidth(h), ...body.flatMap((r) => r[i]!.split('\n').map(displayWidth))));
  const widths = fitWidths(natural, terminalColumns());
  if (widths) {
    heads = head.map((h, i) => wrapText(h, widths[i]!));
    body = body.map((r) => r.map((c, i) => wrapText(c, widths[i]!)));
  }
  if (io.color) {
    const { default: chalk } = await import('chalk');
    heads = heads.map((h) => chalk.bold(h));
  }
  const table = new Table({ head: heads, style: { head: [], border: [] }, ...(widths ? { colWidths: widths.map((w) => w + 2) } : {}) });
  for (const r of body) table.push(r);
  io.out(`${table.toString()}\n`);
}

/**
 * A result in `format`. An empty list: `[]` in JSON (scripts read it as ever); in a table, nothing on stdout
 * and `empty` ("no users") on stderr.
 */
export async function render(value: unknown, format: OutputFormat, empty = 'nothing to show'): Promise<void> {
  if (format === 'json') return printJson(value);
  const rows = (Array.isArray(value) ? value : [value]) as Record<string, unknown>[];
  if (rows.length === 0) return io.notice(empty);
  await printTable(rows);
}

/** This command's result, in the format -o chose. */
export const printResult = (value: unknown, empty?: string): Promise<void> => render(value, chosen, empty);
