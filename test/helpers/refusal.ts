/** Awaits a call that must be refused; returns the error's code and message (fails when nothing was thrown). */
export async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string }> {
  try {
    await (typeof p === 'function' ? Promise.resolve().then(p) : p);
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error('expected a refusal');
}
