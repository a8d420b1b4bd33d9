// Preloaded into `ssrun serve` (NODE_OPTIONS=--require) by server.test.ts: stderr writes of the "serving …"
// notice take 300 ms, as a write to a slow, blocking stderr (a file on a busy disk, a full log pipe) would.
// The test then sends SIGTERM as soon as the Listening line is on stdout, inside that window.
'use strict';
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  if (String(chunk).includes('serving ')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  return write(chunk, ...rest);
};
