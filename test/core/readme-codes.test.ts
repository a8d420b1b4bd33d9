// The README's exit-code table documents every error code ssrun can report, in the row of its exit code.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, EXIT } from '../../src/core/errors.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const table = readme.slice(readme.indexOf('## Exit codes'), readme.indexOf('\n## ', readme.indexOf('## Exit codes') + 5));
const rows = new Map(
  table
    .split('\n')
    .filter((l) => /^\| \d+ \|/.test(l))
    .map((l) => [Number(/^\| (\d+) \|/.exec(l)![1]), l] as const),
);

describe('README exit-code table', () => {
  it.each(Object.entries(ERROR_CODES))('%s is listed under exit %s', (code, family) => {
    const exit = EXIT[family];
    expect(rows.get(exit), `no row for exit ${exit}`).toBeDefined();
    expect(rows.get(exit)).toContain(`\`${code}\``);
  });
});
