// The serving baseline: nginx (Debian's nginx-light) serving files from a directory, started on a free
// port with a temp config. Without nginx, a minimal Node http server that answers with the same bytes
// from memory stands in, and says so.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, startProcess } from './pixa-process.js';

const NGINX_PATHS = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

/** A path every baseline answers with an empty 204, the cheapest answer there is: the client's ceiling. */
export const CEILING_PATH = '/__ceiling';

/**
 * Serves `rootDir` over HTTP on 127.0.0.1, on one core when `core` is given. `probePath` must exist
 * under it (used to know it is up). Returns { url, label, pid, stop() }.
 */
export async function startStaticBaseline({ rootDir, workDir, probePath, core }) {
  const nginx = NGINX_PATHS.find((p) => existsSync(p));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await mkdir(workDir, { recursive: true });
  if (nginx) {
    const conf = path.join(workDir, 'nginx.conf');
    await writeFile(conf, nginxConfig({ rootDir, workDir, port }));
    const proc = await startProcess({
      name: 'nginx',
      command: nginx,
      args: ['-p', workDir, '-c', conf, '-e', path.join(workDir, 'error.log')],
      dataDir: workDir,
      readyUrl: `${url}${probePath}`,
      core,
    });
    return { url, label: 'nginx 1 worker, sendfile', pid: proc.pid, stop: proc.stop };
  }
  const bare = await startBareNode({ rootDir, workDir, probePath, core, port });
  return { ...bare, label: 'Node http from memory (nginx not installed: apt-get install -y nginx-light)' };
}

/**
 * A plain `node:http` server answering from memory (`static-server.js`: the file read once, an ETag,
 * 304s, `res.writeHead` + `res.end(buffer)`), on one core when `core` is given: what Node itself
 * reaches on this machine with the same body, the ceiling of any Node server. Returns { url, label,
 * pid, stop() }.
 */
export async function startBareNode({ rootDir, workDir, probePath, core, port }) {
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  await mkdir(workDir, { recursive: true });
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static-server.js');
  const proc = await startProcess({
    name: 'node-static',
    args: [script, rootDir, String(port)],
    dataDir: workDir,
    readyUrl: `${url}${probePath}`,
    core,
  });
  return { url, label: 'bare node:http from memory', pid: proc.pid, stop: proc.stop };
}

/**
 * One worker process, as Pixa is one process; access log on, as nginx ships; keep-alive without a
 * request cap (nginx closes a connection after 1,000 requests by default, Node never does). The
 * ceiling path answers 204 with no log line: what the client reaches there bounds every figure.
 */
function nginxConfig({ rootDir, workDir, port }) {
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  return `${user}
worker_processes 1;
daemon off;
pid ${path.join(workDir, 'nginx.pid')};
events { worker_connections 1024; }
http {
  types { image/webp webp; image/jpeg jpg; image/png png; }
  default_type application/octet-stream;
  access_log ${path.join(workDir, 'access.log')};
  client_body_temp_path ${path.join(workDir, 'client_body')};
  proxy_temp_path ${path.join(workDir, 'proxy')};
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${port};
    root ${rootDir};
    location / {
      add_header Cache-Control "private, max-age=31536000, immutable";
    }
    location = ${CEILING_PATH} {
      access_log off;
      return 204;
    }
  }
}
`;
}
