import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseAllDocuments } from 'yaml';

import { renderKustomization, type KubeObject } from './kustomize.js';

export type { KubeObject } from './kustomize.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const K8S_DIR = path.join(ROOT, 'deploy/k8s');

/** Every directory under deploy/k8s that holds a kustomization: the base and each overlay. */
export function kustomizationDirs(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(path.join(dir, 'kustomization.yaml'))) found.push(dir);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(dir, entry.name));
    }
  };
  walk(K8S_DIR);
  return found.sort();
}

/** `kubectl kustomize` when kubectl is installed, `undefined` otherwise. */
export const kubectl: ((dir: string) => KubeObject[]) | undefined =
  spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0
    ? (dir) => {
        const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
        return parseAllDocuments(result.stdout)
          .map((doc) => doc.toJS() as KubeObject | null)
          .filter((doc): doc is KubeObject => doc !== null);
      }
    : undefined;

export const RENDERER = kubectl ? 'kubectl kustomize' : 'the JS renderer (kubectl not found)';

/** Renders a kustomization with kubectl when present, else with the JS renderer. */
export function render(dir: string): KubeObject[] {
  return kubectl ? kubectl(dir) : renderKustomization(dir);
}

export interface Json {
  [key: string]: unknown;
}

/** The pod template's spec of a workload, or undefined for other kinds. */
export function podSpec(object: KubeObject): Json | undefined {
  const spec = object.spec as Json | undefined;
  if (object.kind === 'Pod') return spec;
  const template = spec?.template as Json | undefined;
  return template?.spec as Json | undefined;
}

export interface Container extends Json {
  name: string;
  image: string;
}

export function containers(spec: Json): Container[] {
  return (spec.containers as Container[] | undefined) ?? [];
}

export function initContainers(spec: Json): Container[] {
  return (spec.initContainers as Container[] | undefined) ?? [];
}

/** Image name without tag or digest. */
export function imageName(image: string): string {
  return image.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
}

/** Whether a container runs the Pixa image (named `pixa` in the base, `<registry>/pixa` once set). */
export function isPixaImage(image: string): boolean {
  return /(^|\/)pixa$/.test(imageName(image));
}

export function findOne(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const matches = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (matches.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${matches.length}`);
  return matches[0]!;
}

/** The data of a ConfigMap or Secret as plain strings (Secret data decoded). */
export function plainData(object: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries((object.data as Record<string, string> | undefined) ?? {})) {
    out[key] = object.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  for (const [key, value] of Object.entries((object.stringData as Record<string, string> | undefined) ?? {})) {
    out[key] = value;
  }
  return out;
}
