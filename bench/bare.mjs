// The reference of figure 3: a bare fastify route, in a process of its own like `ssrun serve`, answering GET
// API/multi_factor with the JSON it is given (the body ssrun answered), plain HTTP on 127.0.0.1, no token check,
// no store, no audit. Prints {"Listening": URL} like `ssrun serve`. Usage: node bench/bare.mjs FILE
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';

const body = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const app = Fastify({ logger: false });
app.get('/secretssafe/api/v1/multi_factor', async () => body);
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ Listening: address })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
