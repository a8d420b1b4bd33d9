// The same suite as test/e2e/login-universal.test.ts, on a real `ssrun serve` over HTTPS: the server holds the
// client secret and does the exchange; the CLI only carries the browser's way back (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../login-universal.test.js');
