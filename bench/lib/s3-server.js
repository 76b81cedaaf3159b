// `node s3-server.js <dir> <port>`: s3rver with the bucket `pixa`, for the S3 backend run.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');

const [directory, port] = process.argv.slice(2);
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: 'pixa' }],
});
await server.run();
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
