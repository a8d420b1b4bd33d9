// Everything the embedded store needs, in one module: the CLI loads it with one dynamic import (one chunk of
// the bundle, not five files), only for the `local` context.

export { DB_FILE, openEmptySqliteStore, openSqliteStore } from '../store/sqlite.js';
export { nodeCrypto } from '../crypto/node.js';
export { defaultFactors } from '../providers/registry.js';
export { builtinConfigs } from '../core/factor.js';
export { createSsrun } from '../core/service.js';
