// The architecture's rules, checked on the source: no file in src/ over 400 lines, no function over 120;
// the core is pure (no node: modules, no process, no printing); login, enrolment, `mfa get`, config
// validation and the policy check name no factor type (a new type is a provider folder and a registry line).

import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/paths.js';

const SRC = join(ROOT, 'src');
const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const all = files(SRC);
const rel = (f: string) => relative(ROOT, f);

/** Every function-like node with its line count. */
function functions(file: string): { name: string; lines: number }[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const named = (node as { name?: ts.Node }).name;
      out.push({ name: `${rel(file)}:${start + 1} ${named ? named.getText() : '(anonymous)'}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

describe('source layout', () => {
  it('no file in src/ is over 400 lines', () => {
    const long = all.map((f) => [rel(f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });

  it('no function in src/ is over 120 lines', () => {
    const long = all.flatMap(functions).filter((f) => f.lines > 120);
    expect(long).toEqual([]);
  });

  it('the core is pure: no node: modules, no process, no printing', () => {
    const core = all.filter((f) => rel(f).startsWith('src/core/'));
    const impure = core.flatMap((f) => {
      const code = readFileSync(f, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
      return [/from 'node:/, /\bprocess\./, /\bconsole\./, /(?<![.\w])require\(['"`]/].filter((re) => re.test(code)).map((re) => `${rel(f)}: ${re}`);
    });
    expect(impure).toEqual([]);
  });

  it('inside store.write(fn), the use cases use only the transaction: no outer store, no nested write (it would wait for itself)', () => {
    const bad: string[] = [];
    for (const file of all.filter((f) => !rel(f).startsWith('src/store/'))) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
      const inWrite = (node: ts.Node) => {
        const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
        if (ts.isIdentifier(node) && node.text === 'store') bad.push(`${rel(file)}:${line} uses the outer store`);
        if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && ['write', 'settle', 'begin', 'enrollmentDeadline'].includes(node.expression.name.text)) {
          bad.push(`${rel(file)}:${line} calls ${node.expression.name.text}() inside a transaction`);
        }
        ts.forEachChild(node, inWrite);
      };
      const visit = (node: ts.Node) => {
        if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'write' && node.arguments[0] && ts.isArrowFunction(node.arguments[0])) {
          inWrite(node.arguments[0].body);
          return;
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(bad).toEqual([]);
  });

  it('no use case names a factor type: only providers/ and the registry know duo, totp and webauthn', () => {
    const core = all.filter((f) => rel(f).startsWith('src/core/') || rel(f).startsWith('src/remote/') || rel(f).startsWith('src/store/'));
    const naming = core.flatMap((f) => {
      const code = readFileSync(f, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
      return /['"`](duo|totp|webauthn)['"`]|Type === '|\.Type === /.test(code) ? [rel(f)] : [];
    });
    expect(naming).toEqual([]);
  });
});
