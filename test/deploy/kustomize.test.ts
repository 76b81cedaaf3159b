import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderKustomization } from './kustomize.js';
import { K8S_DIR, kubectl, kustomizationDirs, type KubeObject } from './manifests.js';

function byId(objects: KubeObject[]): Map<string, KubeObject> {
  const map = new Map<string, KubeObject>();
  for (const object of objects) {
    const id = `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    expect(map.has(id), `${id} appears twice`).toBe(false);
    map.set(id, object);
  }
  return map;
}

describe('JS kustomize renderer', () => {
  let dir: string;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pixa-kustomize-'));
    write('base/kustomization.yaml', 'resources: [app.yaml]\nconfigMapGenerator:\n  - name: cfg\n    envs: [a.env]\n');
    write('base/a.env', '# settings\n\nA=1\n  B=x&y<z>\n');
    write(
      'base/app.yaml',
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: app}',
        'spec:',
        '  selector: {matchLabels: {a: b}}',
        '  template:',
        '    metadata: {labels: {a: b}}',
        '    spec:',
        '      containers:',
        '        - name: c',
        '          image: pixa',
        '          envFrom: [{configMapRef: {name: cfg}}, {secretRef: {name: sec}}]',
        '          env: [{name: X, value: "1"}]',
        '---',
        'apiVersion: v1',
        'kind: Namespace',
        'metadata: {name: other}',
        '---',
        'apiVersion: storage.k8s.io/v1',
        'kind: StorageClass',
        'metadata: {name: fast}',
        'provisioner: example.com/fast',
        '',
      ].join('\n'),
    );
    write(
      'overlay/kustomization.yaml',
      [
        'namespace: pixa',
        'resources: [../base]',
        'configMapGenerator:',
        '  - {name: cfg, behavior: merge, envs: [b.env]}',
        'secretGenerator:',
        '  - {name: sec, envs: [s.env]}',
        'patches:',
        '  - path: patch.yaml',
        'images:',
        '  - {name: pixa, newTag: local}',
        '',
      ].join('\n'),
    );
    write('overlay/b.env', 'C=3\n');
    write('overlay/s.env', 'S=secret\nL=a-value-long-enough-that-its-base64-runs-past-seventy-characters\n');
    write(
      'overlay/patch.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: c\n          env: [{name: Y, value: "2"}]\n',
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names generated objects with the hash kustomize computes', () => {
    // Names and hashes as printed by kubectl kustomize (kustomize v5.5.0) for the same files.
    const objects = byId(renderKustomization(path.join(dir, 'overlay')));
    expect(objects.get('ConfigMap/pixa/cfg-m8gbdccc6t')?.data).toEqual({ A: '1', B: 'x&y<z>', C: '3' });
    expect(objects.get('Secret/pixa/sec-hmk7d78k46')?.data).toEqual({
      S: 'c2VjcmV0',
      // kustomize cuts base64 of 70 characters or more into lines, and hashes it that way.
      L: 'YS12YWx1ZS1sb25nLWVub3VnaC10aGF0LWl0cy1iYXNlNjQtcnVucy1wYXN0LXNldmVudH\nktY2hhcmFjdGVycw==\n',
    });
    const base = byId(renderKustomization(path.join(dir, 'base')));
    expect([...base.keys()]).toContain('ConfigMap//cfg-hhgcbkhg7m');
  });

  it('applies namespace, images, patches and renamed references', () => {
    const objects = byId(renderKustomization(path.join(dir, 'overlay')));
    expect([...objects.keys()].sort()).toEqual([
      'ConfigMap/pixa/cfg-m8gbdccc6t',
      'Deployment/pixa/app',
      'Namespace//pixa',
      'Secret/pixa/sec-hmk7d78k46',
      'StorageClass//fast',
    ]);
    const spec = objects.get('Deployment/pixa/app')!.spec as {
      replicas: number;
      template: { spec: { containers: unknown[] } };
    };
    expect(spec.replicas).toBe(2);
    expect(spec.template.spec.containers).toEqual([
      {
        name: 'c',
        image: 'pixa:local',
        envFrom: [{ configMapRef: { name: 'cfg-m8gbdccc6t' } }, { secretRef: { name: 'sec-hmk7d78k46' } }],
        env: [
          { name: 'X', value: '1' },
          { name: 'Y', value: '2' },
        ],
      },
    ]);
  });

  it('refuses kustomization fields it does not implement', () => {
    write('unsupported/kustomization.yaml', 'resources: []\ncommonLabels: {a: b}\n');
    expect(() => renderKustomization(path.join(dir, 'unsupported'))).toThrow(/commonLabels/);
  });

  describe.skipIf(!kubectl)('matches kubectl kustomize on every kustomization in deploy/k8s', () => {
    if (!kubectl) console.log('kubectl not found: the JS renderer is not compared with kubectl kustomize');
    it.each(kustomizationDirs().map((d) => [path.relative(K8S_DIR, d) || '.', d]))('%s', (_name, kdir) => {
      const ours = byId(renderKustomization(kdir));
      const theirs = byId(kubectl!(kdir));
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [id, object] of theirs) expect(ours.get(id), id).toEqual(object);
    });
  });
});
