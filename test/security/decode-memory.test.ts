import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { signedUpUser, type ApiResponse, type ErrorBody } from '../helpers/api.js';
import { pngClaiming } from '../helpers/photos.js';
import { ROOT } from '../helpers/pod.js';
import { startTestServer, TEST_SETUP, type TestServer } from '../helpers/server.js';

const MB = 1024 * 1024;
/** Small enough that one 24 MP interlaced 16-bit PNG (~261 MB by the estimate) never runs beside another. */
const BUDGET_MB = 400;
/** What the process may grow by beyond the budget: upload buffers, heap, libvips' thread stacks. */
// The uploads take turns, so the case is slow on a loaded machine; the limit is generous, nothing times it.
const SLACK_MB = 100;

const procStatus = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
};
const NO_PROC = procStatus(process.pid) === undefined ? 'needs /proc/<pid>/status (Linux)' : undefined;

const rssOf = (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(procStatus(pid) ?? '')?.[1] ?? 0) * 1024;

/** The highest RSS of `pid` from now until `stop()`: the kernel's peak counter, reset first, and samples. */
function watchRss(pid: number): { start: number; stop(): number } {
  let exact = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    exact = false;
  }
  const start = rssOf(pid);
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 5);
  return {
    start,
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid), exact ? rssOf(pid, 'VmHWM') : 0);
    },
  };
}

/**
 * The hostile images, made by sharp in a process of its own (so the server's process, which may be
 * this one, does not start out holding their pixels): small files that decode through a whole-image
 * buffer. 24 MP each: 16-bit RGBA interlaced PNGs of ~400 KB (~226 MB to decode) and a GIF of ~10 KB.
 */
async function makeHostileImages(dir: string): Promise<{ pngs: Buffer[]; gif: Buffer }> {
  const script = `
    import sharp from 'sharp';
    const [dir] = process.argv.slice(1);
    const base = (hue) => sharp({ create: { width: 64, height: 64, channels: 3, background: { r: hue, g: 120, b: 200 } } })
      .png().toBuffer().then((small) => sharp(small).resize(6000, 4000, { kernel: 'linear' }));
    for (const hue of [10, 70, 130]) {
      await (await base(hue)).ensureAlpha().toColourspace('rgb16').png({ progressive: true }).toFile(dir + '/interlaced-' + hue + '.png');
    }
    await (await base(200)).gif().toFile(dir + '/large.gif');
  `;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, dir], { cwd: ROOT });
  return {
    pngs: await Promise.all([10, 70, 130].map((hue) => readFile(path.join(dir, `interlaced-${hue}.png`)))),
    gif: await readFile(path.join(dir, 'large.gif')),
  };
}

describe.skipIf(NO_PROC)(`decode memory budget (${TEST_SETUP})`, () => {
  let server: TestServer;
  let api: TestServer['client'];
  let workDir: string;
  let images: { pngs: Buffer[]; gif: Buffer };
  /** The process that decodes: the storage service in a pod, the one process embedded. */
  let decoderPid: number;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'pixa-decode-'));
    images = await makeHostileImages(workDir);
    server = await startTestServer({ PIXA_DECODE_MEMORY_MB: String(BUDGET_MB), PIXA_DECODE_CONCURRENCY: '2' });
    api = server.client;
    decoderPid = server.pod ? server.pod.processes.storage.child.pid! : process.pid;
  }, 300_000);
  afterAll(async () => {
    await server?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('interlaced 16-bit PNGs and a GIF uploaded at once take turns: RSS stays within the budget and sign-in answers', async () => {
    const signer = await signedUpUser(api, 'signer');
    const uploaders = await Promise.all(images.pngs.map(() => signedUpUser(api, 'decoder')));
    const gifUser = await signedUpUser(api, 'decoder');
    // Warm up libvips and the upload path, so the watch below sees the decodes, not start-up.
    const warm = await api.upload(gifUser.token, [{ name: 'warm.png', data: pngClaiming(1, 1, 'interlaced16') }]);
    expect([201, 400]).toContain(warm.status);

    const watch = watchRss(decoderPid);
    let uploading = true;
    const uploads = Promise.all([
      ...images.pngs.map((data, i) => api.upload(uploaders[i]!.token, [{ name: `interlaced-${i}.png`, data }])),
      api.upload(gifUser.token, [{ name: 'large.gif', data: images.gif }]),
    ]).finally(() => (uploading = false));
    const signIns: number[] = [];
    while (uploading) signIns.push((await api.login(signer.username, signer.password)).status);
    const results = await uploads;
    const peak = watch.stop();

    const growthMb = (peak - watch.start) / MB;
    console.info(
      `decode memory: RSS ${Math.round(watch.start / MB)} MB → peak ${Math.round(peak / MB)} MB ` +
        `(+${Math.round(growthMb)} MB, budget ${BUDGET_MB} MB); ${signIns.length} sign-ins while uploading`,
    );
    // Every upload waited for its turn and succeeded; none was refused.
    expect(results.map((res) => res.status)).toEqual([201, 201, 201, 201]);
    expect(growthMb).toBeLessThan(BUDGET_MB + SLACK_MB);
    expect(signIns.length).toBeGreaterThan(0);
    expect(new Set(signIns)).toEqual(new Set([200]));
  }, 300_000);

  test('an image whose decode could never fit the budget is refused with 413 before decoding', async () => {
    const user = await signedUpUser(api, 'huge');
    // 8000×6000 16-bit RGBA, interlaced: ~490 MB to decode, more than the 400 MB budget.
    const res: ApiResponse<ErrorBody> = await api.upload(user.token, [
      { name: 'bomb.png', data: pngClaiming(8000, 6000, 'interlaced16') },
    ]);

    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('image_too_large');
    expect(res.body.error.message).toContain('"bomb.png"');
    expect(res.body.error.message).toContain('interlaced 16-bit PNG');
    expect(res.body.error.message).toMatch(/needs about [\d,]+ MB of memory, more than the 400 MB/);
    expect((await api.list(user.token)).body.items).toEqual([]);
  });

  test('the same image without interlacing streams, and is decoded', async () => {
    const user = await signedUpUser(api, 'streamed');
    const script = `
      import sharp from 'sharp';
      const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3a7' } }).png().toBuffer();
      await sharp(small).resize(8000, 6000, { kernel: 'linear' }).ensureAlpha().toColourspace('rgb16').png()
        .toFile(process.argv[1]);
    `;
    const file = path.join(workDir, 'streamed.png');
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, file], { cwd: ROOT });

    const res = await api.upload(user.token, [{ name: 'streamed.png', data: await readFile(file) }]);

    expect(res.status).toBe(201);
    expect(res.body.images[0]).toMatchObject({ width: 8000, height: 6000 });
  }, 300_000);
});
