// The same suite as test/e2e/push-progress.test.ts, on a real `ssrun serve` over HTTPS (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../push-progress.test.js');
