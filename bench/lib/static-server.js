// The serving baseline when nginx is not installed: `node static-server.js <root> <port>` answers GET
// with the bytes of `<root>/<path>`, read once and then kept in memory, with an ETag and 304s.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const [root, port] = process.argv.slice(2);
const files = new Map();

function load(urlPath) {
  let file = files.get(urlPath);
  if (file) return file;
  const full = path.resolve(root, `.${decodeURIComponent(urlPath)}`);
  if (!full.startsWith(path.resolve(root) + path.sep)) return undefined;
  try {
    const data = readFileSync(full);
    file = { data, etag: `"${createHash('sha1').update(data).digest('hex')}"` };
  } catch {
    return undefined;
  }
  files.set(urlPath, file);
  return file;
}

http
  .createServer((request, response) => {
    if (request.url === '/__ceiling') {
      response.writeHead(204).end();
      return;
    }
    const file = load(request.url.split('?', 1)[0]);
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    const headers = { etag: file.etag, 'cache-control': 'private, max-age=31536000, immutable' };
    if (request.headers['if-none-match'] === file.etag) {
      response.writeHead(304, headers).end();
      return;
    }
    response.writeHead(200, { ...headers, 'content-type': 'image/webp', 'content-length': file.data.length });
    response.end(file.data);
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
