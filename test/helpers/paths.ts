import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'ssrun');
export const FIXTURES = join(ROOT, 'fixtures');
