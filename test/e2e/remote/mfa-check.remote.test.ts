// The same suite as test/e2e/mfa-check.test.ts, on a real `ssrun serve` over HTTPS (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../mfa-check.test.js');
