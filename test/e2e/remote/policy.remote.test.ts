// The same suite as test/e2e/policy.test.ts, on a real `ssrun serve` over HTTPS (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../policy.test.js');
