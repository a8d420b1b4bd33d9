// Results go to stdout: JSON by default (what scripts pipe), a table for people with --output table.

import { io } from './context.js';
import { SsrunError } from '../core/errors.js';

export type OutputFormat = 'json' | 'table';

export function parseOutput(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'json') return 'json';
  if (value === 'table') return 'table';
  throw new SsrunError('USAGE', `--output: expected json or table, received ${JSON.stringify(value)}`);
}

export function printJson(value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' && x !== null ? Object.values(x)[0] : String(x))).join('\n');
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}: ${cell(x)}`).join('\n');
  }
  return String(v);
}

export async function printTable(rows: Record<string, unknown>[]): Promise<void> {
  const { default: Table } = await import('cli-table3');
  const head = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  let headCells = head;
  if (io.color) {
    const { default: chalk } = await import('chalk');
    headCells = head.map((h) => chalk.bold(h));
  }
  const table = new Table({ head: headCells, style: { head: [], border: [] } });
  for (const r of rows) table.push(head.map((h) => cell(r[h])));
  io.out(`${table.toString()}\n`);
}

export async function render(value: unknown, format: OutputFormat): Promise<void> {
  if (format === 'json') return printJson(value);
  await printTable((Array.isArray(value) ? value : [value]) as Record<string, unknown>[]);
}
