import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SERVICE_NAMES, SERVICES } from '../../src/config/service-table.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name: string | undefined;
  flags: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions, joining `\` continuations and dropping comments. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      const next = lines[++i]!.trim();
      line = `${line.slice(0, -1).trim()} ${next.startsWith('#') ? '' : next}`.trim();
    }
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args, line: start + 1 };
    if (instruction.keyword === 'FROM') {
      const [, flags = '', from = '', name] = /^((?:--\S+\s+)*)(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, flags: flags.trim(), instructions: [] });
    } else {
      expect(stages.length, `line ${start + 1}: ${keyword} before any FROM`).toBeGreaterThan(0);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** Whether .dockerignore keeps `file` (a path relative to the build context) out of the context. */
function ignored(patterns: string[], file: string): boolean {
  let excluded = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      `^${pattern
        .split('**')
        .map((part) =>
          part
            .split('*')
            .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('[^/]*'),
        )
        .join('.*')
        .replace(/\.\*\//g, '(?:.*/)?')}(?:/.*)?$`,
    );
    if (regex.test(file)) excluded = !negate;
  }
  return excluded;
}

const dockerfile = readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages.at(-1)!;
const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
const all = (keyword: string, stage?: Stage) =>
  (stage ? [stage] : stages).flatMap((s) => s.instructions.filter((i) => i.keyword === keyword));
const dockerignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/** The stage a `FROM x` builds on, following stage names back to an external image. */
function baseImageOf(stage: Stage): string {
  const parent = stages.find((s) => s.name === stage.from);
  return parent ? baseImageOf(parent) : stage.from;
}

describe('deploy/Dockerfile', () => {
  it('builds in stages and ships a separate runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final.name).toBe('runtime');
  });

  it('pins every base image to an exact release, never latest', () => {
    for (const stage of stages) {
      if (stageNames.has(stage.from)) continue;
      expect(stage.from, stage.from).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$/);
      expect(stage.from).not.toMatch(/:latest\b/);
    }
  });

  it('runs Node.js of the current LTS line in the runtime image', () => {
    expect(baseImageOf(final)).toMatch(/^node:(22|24)\.\d+\.\d+-[a-z]+-slim$/);
  });

  it('runs as a numeric non-root user', () => {
    const users = all('USER', final);
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args.split(':')[0]!;
    expect(user).toMatch(/^\d+$/);
    expect(Number(user)).not.toBe(0);
  });

  it('puts no secret into the image', () => {
    for (const instruction of [...all('ENV'), ...all('ARG')]) {
      expect(instruction.args, `line ${instruction.line}`).not.toMatch(/PASSWORD|SECRET|TOKEN|CONNECTION_STRING/i);
      expect(instruction.args, `line ${instruction.line}`).not.toMatch(/:\/\/[^/@\s:]+:[^/@\s]+@/);
    }
    for (const instruction of all('COPY')) expect(instruction.args).not.toMatch(/\.env\b|\.pem\b|\.key\b/);
  });

  it('installs with npm ci, and production dependencies for the runtime on its own platform', () => {
    const runs = all('RUN').map((i) => i.args);
    expect(runs.some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    expect(runs.filter((run) => /\bnpm (install|i)\b/.test(run))).toEqual([]);
    // node_modules of the runtime come from a stage that ran `npm ci --omit=dev` on the same base
    // image (so sharp's native binary matches) and not on the build machine's platform.
    const copy = all('COPY', final).find((i) => /\bnode_modules\b/.test(i.args));
    const source = /--from=(\S+)/.exec(copy?.args ?? '')?.[1];
    const depsStage = stages.find((s) => s.name === source);
    expect(depsStage, 'runtime copies node_modules from a stage').toBeDefined();
    expect(all('RUN', depsStage).some((i) => /\bnpm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(baseImageOf(depsStage!)).toBe(baseImageOf(final));
    // …and proves there that the native modules load.
    for (const nativeModule of ['better-sqlite3', 'sharp', '@node-rs/argon2']) {
      expect(all('RUN', depsStage).some((i) => i.args.includes(`require('${nativeModule}')`))).toBe(true);
    }
    for (const stage of stages) expect(stage.flags, `FROM ${stage.from}`).not.toMatch(/--platform/);
  });

  it('ships the built server, the built web UI and the pixa command', () => {
    const copies = all('COPY', final).map((i) => i.args);
    expect(copies).toEqual(expect.arrayContaining([expect.stringMatching(/--from=\S+ \/app\/dist \.\/dist$/)]));
    expect(copies).toEqual(
      expect.arrayContaining([expect.stringMatching(/--from=\S+ \/app\/web\/dist \.\/web\/dist$/)]),
    );
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(JSON.parse(all('CMD', final).at(-1)?.args ?? 'null')).toEqual(['node', pkg.bin.pixa, 'serve']);
  });

  it('exposes the port of every service, and the embedded gateway port', () => {
    const exposed = all('EXPOSE', final).flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split('/')[0])));
    for (const name of SERVICE_NAMES) expect(exposed, name).toContain(SERVICES[name].port);
    expect(exposed).toContain(SERVICES.gateway.embeddedPort);
  });

  it('has a HEALTHCHECK that runs node (slim images have no curl), on a script the image contains', () => {
    const healthchecks = all('HEALTHCHECK', final);
    expect(healthchecks).toHaveLength(1);
    const command = healthchecks[0]!.args;
    expect(command).toMatch(/CMD \["node", "([^"]+)"\]$/);
    const script = /CMD \["node", "([^"]+)"\]$/.exec(command)![1]!;
    expect(all('COPY', final).some((i) => i.args.endsWith(` ./${script}`))).toBe(true);
    expect(command).not.toMatch(/curl|wget/);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    for (const instruction of all('COPY').filter((i) => !i.args.startsWith('--from'))) {
      const sources = instruction.args.split(/\s+/).slice(0, -1);
      for (const source of sources.filter((s) => s !== '.')) {
        expect(existsSync(path.join(ROOT, source)), source).toBe(true);
        expect(ignored(dockerignore, source), `${source} is excluded by .dockerignore`).toBe(false);
      }
    }
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, build output, git history and local secrets out of the context', () => {
    for (const file of ['node_modules/x', 'web/node_modules/x', 'dist/main.js', 'web/dist/index.html', '.git/HEAD']) {
      expect(ignored(dockerignore, file), file).toBe(true);
    }
    for (const file of ['.env', '.env.production', 'data/pixa.db'])
      expect(ignored(dockerignore, file), file).toBe(true);
  });

  it('keeps everything `npm run build` needs', () => {
    for (const file of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'src/main.ts',
      'web/index.html',
      'web/src/App.svelte',
      'scripts/build-web.js',
      'bin/pixa.js',
      'deploy/healthcheck.mjs',
    ]) {
      expect(ignored(dockerignore, file), file).toBe(false);
    }
  });
});

describe('deploy/healthcheck.mjs', () => {
  const servers: Server[] = [];
  const listen = async (status: number): Promise<number> => {
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'deploy/healthcheck.mjs')], {
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });

  let healthy: number;
  let failing: number;
  beforeAll(async () => {
    healthy = await listen(200);
    failing = await listen(503);
  });
  afterAll(() => servers.forEach((server) => server.close()));

  it('embedded mode › checks the one gateway port › exits 0 when it answers', async () => {
    const result = await run({ PIXA_PORT: String(healthy) });
    expect(result.out.trim()).toBe(`ok http://127.0.0.1:${healthy}/healthz 200`);
    expect(result.code).toBe(0);
  });

  it('pod mode › checks each service the container runs › exits 1 when one fails', async () => {
    const result = await run({
      PIXA_MODE: 'pod',
      PIXA_SERVICES: 'auth,storage',
      PIXA_AUTH_PORT: String(healthy),
      PIXA_STORAGE_PORT: String(failing),
    });
    expect(result.out).toContain(`ok http://127.0.0.1:${healthy}/healthz 200`);
    expect(result.out).toContain(`failing http://127.0.0.1:${failing}/healthz 503`);
    expect(result.code).toBe(1);
  });

  it('pod mode › without port settings › asks the default port of every service in the code', async () => {
    const result = await run({ PIXA_MODE: 'pod' });
    const ports = [...result.out.matchAll(/http:\/\/127\.0\.0\.1:(\d+)\/healthz/g)].map((m) => Number(m[1]));
    expect(ports.sort()).toEqual(SERVICE_NAMES.map((name) => SERVICES[name].port).sort());
  });
});
