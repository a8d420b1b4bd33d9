// Preloaded (node -r) into a cold `ssrun` run by bench/bench.mjs: writes the process's peak RSS (KB) to
// $BENCH_RSS_FILE as it exits. Used in runs of its own, never in the timed ones.
const { writeFileSync } = require('node:fs');
process.on('exit', () => writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS)));
