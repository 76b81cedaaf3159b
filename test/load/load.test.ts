import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { newCredentials } from '../helpers/api.js';
import { makePhoto } from '../helpers/photos.js';
import { startTestServer, TEST_SETUP, type TestServer } from '../helpers/server.js';
import { integrityOf, NO_PROBLEMS, problemsOf } from '../faults/support/integrity.js';
import { filePart, multipartBody, newBoundary } from '../faults/support/raw-http.js';

/** How long the mixed traffic runs (PIXA_LOAD_SECONDS, default 20) and over how many connections. */
const SECONDS = Number(process.env.PIXA_LOAD_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.PIXA_LOAD_CONNECTIONS ?? 48);
const ACCOUNTS = 20;

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface Account {
  username: string;
  password: string;
  token: string;
  userId: string;
}
interface Uploaded {
  account: Account;
  id: string;
  sha: string;
}

/** mulberry32, so that the mix of operations is the same on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resident memory of a process in bytes, from /proc (Linux). */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

describe(`load (${TEST_SETUP})`, () => {
  let server: TestServer;
  let dispatcher: Agent;

  beforeAll(async () => {
    // A daily transfer quota some accounts will reach: its 429s are the only refusals allowed. The
    // server runs in processes of its own (one embedded, five in a pod), whose memory is sampled.
    server = await startTestServer({ PIXA_DAILY_TRANSFER_MB: '0.5', PIXA_LOG_LEVEL: 'error' }, { childProcess: true });
    dispatcher = new Agent({ connections: CONNECTIONS, pipelining: 1 });
  });
  afterAll(async () => {
    await dispatcher?.close();
    await server?.close();
  });

  test(
    `load › ${SECONDS} s of browsing, uploads and downloads by ${ACCOUNTS} accounts over ${CONNECTIONS} connections › no 5xx, only quota refusals, memory flat, every upload intact`,
    async () => {
      const call = async (
        method: string,
        url: string,
        options: { token?: string; body?: Buffer; type?: string } = {},
      ) => {
        const headers: Record<string, string> = {};
        if (options.token) headers.authorization = `Bearer ${options.token}`;
        if (options.type) headers['content-type'] = options.type;
        requests++;
        const res = await request(`${server.url}${url}`, { method, headers, body: options.body, dispatcher });
        const body = Buffer.from(await res.body.arrayBuffer());
        return { status: res.statusCode, body };
      };

      let requests = 0;
      const accounts: Account[] = [];
      for (let i = 0; i < ACCOUNTS; i++) {
        const { username, password } = newCredentials(`load${i}`);
        const res = await call('POST', '/api/v1/auth/register', {
          body: Buffer.from(JSON.stringify({ username, password })),
          type: 'application/json',
        });
        expect(res.status).toBe(201);
        const parsed = JSON.parse(res.body.toString()) as { token: string; user: { id: string } };
        accounts.push({ username, password, token: parsed.token, userId: parsed.user.id });
      }
      const photos = await Promise.all(
        Array.from({ length: 16 }, (_, i) => makePhoto({ width: 480, height: 360, seed: 2000 + i })),
      );

      const uploaded: Uploaded[] = [];
      const statuses = new Map<string, number>();
      const problems: string[] = [];
      const count = (what: string, status: number) => {
        const key = `${what} ${status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      };
      const QUOTA_CODES = ['storage_quota_exceeded', 'transfer_quota_exceeded'];
      const check = (what: string, res: { status: number; body: Buffer }, ok: number[]) => {
        count(what, res.status);
        if (ok.includes(res.status)) return true;
        if (res.status === 429 && QUOTA_CODES.some((code) => res.body.toString().includes(code))) return false;
        problems.push(`${what}: ${res.status} ${res.body.toString().slice(0, 200)}`);
        return false;
      };

      let unique = 0;
      const operations = {
        async browse(account: Account) {
          const res = await call('GET', '/api/v1/images?limit=30', { token: account.token });
          if (!check('list', res, [200])) return;
          const items = (JSON.parse(res.body.toString()) as { items: { urls: { thumbnail: string } }[] }).items;
          for (const item of items.slice(0, 6)) check('thumbnail', await call('GET', item.urls.thumbnail), [200]);
        },
        async upload(account: Account, random: () => number) {
          // A trailer after the JPEG's end marker makes every upload new bytes, and keeps it a valid JPEG.
          const data = Buffer.concat([photos[Math.floor(random() * photos.length)]!, Buffer.from(`#${unique++}`)]);
          const boundary = newBoundary();
          const res = await call('POST', '/api/v1/images', {
            token: account.token,
            body: multipartBody(boundary, [filePart(`load-${unique}.jpg`, data, 'image/jpeg')]),
            type: `multipart/form-data; boundary=${boundary}`,
          });
          if (!check('upload', res, [201])) return;
          const id = (JSON.parse(res.body.toString()) as { images: { id: string }[] }).images[0]!.id;
          uploaded.push({ account, id, sha: sha256(data) });
        },
        async download(account: Account, random: () => number) {
          const own = uploaded.filter((u) => u.account === account);
          if (own.length === 0) return operations.browse(account);
          const image = own[Math.floor(random() * own.length)]!;
          const variant = random() < 0.5 ? 'original' : 'preview';
          check(variant, await call('GET', `/api/v1/images/${image.id}/${variant}`, { token: account.token }), [200]);
        },
      };

      const samples: { at: number; rss: number }[] = [];
      const started = Date.now();
      const deadline = started + SECONDS * 1000;
      const sampler = setInterval(() => {
        Promise.all(server.pids.map(rssOf))
          .then((each) => samples.push({ at: Date.now() - started, rss: each.reduce((a, b) => a + b, 0) }))
          .catch(() => undefined);
      }, 500);
      let done = 0;
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async (_, worker) => {
          const random = prng(4242 + worker);
          const account = accounts[worker % ACCOUNTS]!;
          while (Date.now() < deadline) {
            const dice = random();
            try {
              if (dice < 0.5) await operations.browse(account);
              else if (dice < 0.75) await operations.download(account, random);
              else await operations.upload(account, random);
            } catch (error) {
              problems.push(`worker ${worker}: ${(error as Error).message}`);
            }
            done++;
          }
        }),
      );
      clearInterval(sampler);

      const elapsed = (Date.now() - started) / 1000;
      const warm = samples.filter((s) => s.at > (SECONDS * 1000) / 4 && s.at <= (SECONDS * 1000) / 2);
      const late = samples.filter((s) => s.at > (SECONDS * 1000 * 3) / 4);
      const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
      console.info(
        [
          `load (${TEST_SETUP}): ${done} operations (${requests} requests) in ${elapsed.toFixed(1)} s (${(done / elapsed).toFixed(0)}/s) by ${CONNECTIONS} connections`,
          `  uploads accepted: ${uploaded.length}; problems (5xx, unexpected statuses, errors): ${problems.length}`,
          `  statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
          `  server RSS MB: start ${mb(samples[0]?.rss ?? 0)}, after warm-up ${mb(mean(warm.map((s) => s.rss)))}, ` +
            `last quarter ${mb(mean(late.map((s) => s.rss)))}, peak ${mb(Math.max(...samples.map((s) => s.rss)))}`,
        ].join('\n'),
      );

      expect(problems).toEqual([]);
      expect(uploaded.length).toBeGreaterThan(0);
      // Flat after warm-up, loosely: no steady climb that would end in an out-of-memory kill.
      expect(mean(late.map((s) => s.rss))).toBeLessThan(mean(warm.map((s) => s.rss)) * 1.5 + 64 * 1024 * 1024);

      let verifiedBytes = 0;
      // Every accepted upload comes back byte for byte (transfer quotas lifted first, as an admin would).
      await server.db.updateTable('users').set({ daily_transfer_bytes: 0 }).execute();
      // A quota the administrator changed applies to media once the server's cached copy is 2 s old.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      for (const image of uploaded) {
        const res = await call('GET', `/api/v1/images/${image.id}/original`, { token: image.account.token });
        expect([image.id, res.status]).toEqual([image.id, 200]);
        expect(sha256(res.body)).toBe(image.sha);
        verifiedBytes += res.body.length;
      }
      console.info(`load (${TEST_SETUP}): ${uploaded.length} originals, ${verifiedBytes} bytes, verified by SHA-256`);
      const rows = await server.db.selectFrom('images').select('id').execute();
      expect(rows.map((r) => r.id).sort()).toEqual(uploaded.map((u) => u.id).sort());
      expect(problemsOf(await integrityOf(server))).toEqual(NO_PROBLEMS);
    },
    (SECONDS + 90) * 1000,
  );
});
