// The same suite as test/e2e/session-cli.test.ts, on a real `ssrun serve` over HTTPS (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../session-cli.test.js');
