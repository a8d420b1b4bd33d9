// The same suite as test/e2e/login-passcode.test.ts, on a real `ssrun serve` over HTTPS (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../login-passcode.test.js');
