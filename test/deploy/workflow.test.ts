import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { validateWorkflow } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { ENV_VARS } from '../../src/config/config.js';
import { containers, initContainers, isPixaImage, podSpec, render, ROOT } from './manifests.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}

interface Job {
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string> | string;
  services?: Record<string, { image: string; env?: Record<string, string>; ports?: string[] }>;
  env?: Record<string, string>;
  steps: Step[];
  concurrency?: unknown;
}

interface Workflow {
  on: { pull_request?: unknown; push?: { branches?: string[] } };
  permissions?: Record<string, string> | string;
  concurrency?: unknown;
  jobs: Record<string, Job>;
}

const WORKFLOW_PATH = path.join(ROOT, '.github/workflows/pipeline.yml');
const source = readFileSync(WORKFLOW_PATH, 'utf8');
const workflow = parse(source) as Workflow;
const scripts = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

const jobUsing = (action: string): [string, Job] => {
  const found = Object.entries(workflow.jobs).filter(([, job]) => job.steps.some((s) => s.uses?.startsWith(action)));
  expect(
    found.map(([name]) => name),
    `jobs using ${action}`,
  ).toHaveLength(1);
  return found[0]!;
};
/** The job that runs `npm test`, the README's test command. */
const testJob = (): [string, Job] => {
  const found = Object.entries(workflow.jobs).filter(([, job]) => runs(job).some((r) => /^npm test$/m.test(r)));
  expect(
    found.map(([name]) => name),
    'jobs running npm test',
  ).toHaveLength(1);
  return found[0]!;
};
const stepUsing = (job: Job, action: string): Step => job.steps.find((s) => s.uses?.startsWith(action))!;
const runs = (job: Job) => job.steps.flatMap((s) => (s.run ? [s.run] : []));
const needsOf = (job: Job) => [job.needs ?? []].flat();

describe('.github/workflows/pipeline.yml', () => {
  it('is a valid GitHub Actions workflow', () => {
    expect(validateWorkflow(source).errors).toEqual([]);
  });

  it('runs on pull requests and on pushes to main, one run per ref at a time', () => {
    expect(workflow.on.pull_request).not.toBeUndefined();
    expect(workflow.on.push?.branches).toEqual(['main']);
    expect(workflow.concurrency).toBeDefined();
  });

  it('grants read-only access by default and each write permission to the one job that needs it', () => {
    expect(workflow.permissions).toEqual({ contents: 'read' });
    const writers: Record<string, string[]> = {};
    for (const [name, job] of Object.entries(workflow.jobs)) {
      expect(job.permissions, name).not.toBe('write-all');
      if (typeof job.permissions !== 'object') continue;
      for (const [scope, level] of Object.entries(job.permissions)) {
        if (level === 'write') (writers[scope] ??= []).push(name);
      }
    }
    expect(writers).toEqual({
      packages: [jobUsing('docker/build-push-action')[0]],
      'id-token': [jobUsing('azure/login')[0]],
    });
  });

  it('pins every action to a release', () => {
    for (const job of Object.values(workflow.jobs)) {
      for (const step of job.steps.filter((s) => s.uses)) {
        expect(step.uses).toMatch(/^[\w.-]+\/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/);
      }
    }
  });

  it('runs only npm scripts that package.json defines', () => {
    for (const job of Object.values(workflow.jobs)) {
      for (const run of runs(job)) {
        for (const match of run.matchAll(/\bnpm (?:run (\S+)|(test|start))\b/g)) {
          expect(Object.keys(scripts)).toContain(match[1] ?? match[2]);
        }
      }
    }
  });

  describe('test job', () => {
    const job = testJob()[1];

    it('installs with npm ci, lints, then runs the README test command', () => {
      const commands = runs(job).flatMap((r) => r.split('\n').map((line) => line.trim()));
      const order = ['npm ci', 'npm run lint', 'npm test'].map((c) => commands.indexOf(c));
      expect(order.every((i) => i >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
    });

    it('tests against real MariaDB and PostgreSQL service containers', () => {
      const services = Object.values(job.services ?? {});
      const mariadb = services.find((s) => /^mariadb:\d/.test(s.image));
      const postgres = services.find((s) => /^postgres:\d/.test(s.image));
      expect(mariadb?.env?.MARIADB_ALLOW_EMPTY_ROOT_PASSWORD).toBeTruthy();
      expect(mariadb?.env?.MARIADB_DATABASE).toBe('test');
      expect(mariadb?.ports).toContain('3306:3306');
      expect(postgres?.env?.POSTGRES_HOST_AUTH_METHOD).toBe('trust');
      expect(postgres?.env?.POSTGRES_DB).toBe('test');
      expect(postgres?.ports).toContain('5432:5432');
      expect(job.env).toMatchObject({
        PIXA_TEST_MYSQL_URL: 'mysql://root@127.0.0.1:3306/test',
        PIXA_TEST_POSTGRES_URL: 'postgres://postgres@127.0.0.1:5432/test',
      });
    });

    it('has Chromium for the browser tests, from apt where the runner lacks it', () => {
      expect(runs(job).some((r) => /apt-get install[^\n]*\bchromium\b/.test(r))).toBe(true);
    });
  });

  describe('image job', () => {
    const [, job] = jobUsing('docker/build-push-action');
    const build = stepUsing(job, 'docker/build-push-action').with!;

    it('builds only on pushes to main, after the tests pass', () => {
      expect(job.if).toMatch(/github\.event_name == 'push'/);
      expect(job.if).toMatch(/refs\/heads\/main/);
      expect(needsOf(job)).toContain(testJob()[0]);
    });

    it('logs in to GHCR with the job token and builds deploy/Dockerfile once', () => {
      const login = stepUsing(job, 'docker/login-action').with!;
      expect(login.registry).toBe('ghcr.io');
      expect(login.password).toBe('${{ secrets.GITHUB_TOKEN }}');
      expect(build.file).toBe('deploy/Dockerfile');
      expect(existsSync(path.join(ROOT, build.file!))).toBe(true);
      expect(build.context).toBe('.');
      expect(String(build.push)).toBe('true');
      expect(job.steps.filter((s) => s.uses?.startsWith('docker/build-push-action'))).toHaveLength(1);
    });

    it('tags the image with the commit SHA and latest', () => {
      const tags = build.tags!.trim().split('\n');
      expect(tags).toHaveLength(2);
      expect(tags.some((tag) => tag.endsWith(':${{ github.sha }}'))).toBe(true);
      expect(tags.some((tag) => tag.endsWith(':latest'))).toBe(true);
    });
  });

  describe('deploy job', () => {
    const [, job] = jobUsing('azure/k8s-deploy');
    const [imageJobName] = jobUsing('docker/build-push-action');
    const deploy = stepUsing(job, 'azure/k8s-deploy').with!;

    it('deploys after the image is pushed, signed in to Azure and the AKS cluster', () => {
      expect(needsOf(job)).toContain(imageJobName);
      const order = ['azure/login', 'azure/aks-set-context', 'azure/k8s-deploy'].map((a) =>
        job.steps.findIndex((s) => s.uses?.startsWith(a)),
      );
      expect(order.every((i) => i >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(job.concurrency).toMatchObject({ 'cancel-in-progress': false });
    });

    it('deploys the image by its commit SHA tag, never latest', () => {
      const image = deploy.images!.replace('${{ env.IMAGE }}', job.env!.IMAGE!);
      expect(image).toBe('${{ needs.' + imageJobName + '.outputs.image }}:${{ github.sha }}');
      expect(source.match(/\bnewTag: (.*)$/m)?.[1]).toBe('${{ github.sha }}');
      expect(JSON.stringify(job)).not.toMatch(/:latest|newTag: latest/);
    });

    it('renders the aks overlay with the image pinned to the commit on every Pixa container', () => {
      const script = runs(job).find((r) => r.includes('kubectl kustomize'))!;
      const heredoc = /<<EOF\n([\s\S]*?)\nEOF/.exec(script)![1]!;
      const dir = /kubectl kustomize (\S+) > (\S+)/.exec(script)!;
      expect(deploy.manifests).toBe(dir[2]);
      const tmp = mkdtempSync(path.join(tmpdir(), 'pixa-release-'));
      try {
        // Play the step: the same kustomization, written where the step writes it relative to the overlay.
        const overlay = path.join(ROOT, dir[1]!, /- (\.\.\/\S+)/.exec(heredoc)![1]!);
        expect(existsSync(path.join(overlay, 'kustomization.yaml'))).toBe(true);
        const kustomization = heredoc
          .replace(/- \.\.\/\S+/, `- ${path.relative(tmp, overlay)}`)
          .replace('${{ needs.' + imageJobName + '.outputs.image }}', 'ghcr.io/example/pixa')
          .replace('${{ github.sha }}', '0123456789abcdef0123456789abcdef01234567');
        writeFileSync(path.join(tmp, 'kustomization.yaml'), kustomization);
        const pixa = render(tmp).flatMap((object) => {
          const spec = podSpec(object);
          return spec ? [...initContainers(spec), ...containers(spec)].filter((c) => isPixaImage(c.image)) : [];
        });
        expect(pixa.length).toBeGreaterThanOrEqual(6);
        for (const container of pixa) {
          expect(container.image).toBe('ghcr.io/example/pixa:0123456789abcdef0123456789abcdef01234567');
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    it('creates the Secret from repository secrets, with keys Pixa knows', () => {
      const step = job.steps.find((s) => s.run?.includes('create secret generic pixa-secrets'))!;
      const keys = [...step.run!.matchAll(/--from-literal=(\w+)="\$(\w+)"/g)];
      expect(keys.length).toBeGreaterThan(0);
      for (const [, key, variable] of keys) {
        expect(variable).toBe(key);
        expect(Object.keys(ENV_VARS)).toContain(key);
        expect(step.env?.[key!]).toBe(`\${{ secrets.${key} }}`);
      }
    });

    it('documents every repository secret it uses in deploy/k8s/README.md', () => {
      const readme = readFileSync(path.join(ROOT, 'deploy/k8s/README.md'), 'utf8');
      const used = new Set([...source.matchAll(/\$\{\{\s*secrets\.(\w+)\s*\}\}/g)].map((m) => m[1]!));
      used.delete('GITHUB_TOKEN');
      expect(used.size).toBeGreaterThan(0);
      for (const secret of used) expect(readme, secret).toContain(`\`${secret}\``);
    });
  });
});
