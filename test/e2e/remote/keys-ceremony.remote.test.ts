// The same suite as test/e2e/keys-ceremony.test.ts, on a real `ssrun serve --public-url` over HTTPS (see test/helpers/cli.ts).
import { useBackend } from '../../helpers/cli.js';
useBackend('remote');
await import('../keys-ceremony.test.js');
