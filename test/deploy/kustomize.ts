import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as it appears in a manifest. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

type Json = Record<string, unknown>;

/** An object and, for generated ConfigMaps and Secrets, the name that gets the content-hash suffix. */
interface Item {
  object: KubeObject;
  generatedName?: string;
}

const KUSTOMIZATION_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'configMapGenerator',
  'secretGenerator',
  'patches',
  'images',
]);
const GENERATOR_KEYS = new Set(['name', 'behavior', 'envs', 'literals', 'type']);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'StorageClass',
  'PersistentVolume',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
]);
const WORKLOAD_POD_SPEC: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
/** Merge keys of the lists a strategic merge patch merges item by item (other lists are replaced). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
};

/**
 * Renders a kustomization directory like `kubectl kustomize`, for machines without kubectl. It covers
 * what Pixa's overlays use — resources (files and directories), namespace, images, strategic-merge
 * `patches` by path, and ConfigMap/Secret generators from env files and literals with content-hash
 * name suffixes — and throws on any other field, so it can never silently render something else.
 */
export function renderKustomization(dir: string): KubeObject[] {
  const items = build(path.resolve(dir));
  const renamed = new Map<string, string>();
  for (const item of items) {
    if (item.generatedName === undefined) continue;
    const name = `${item.generatedName}-${contentHash(item.object)}`;
    renamed.set(refKey(item.object.kind, item.object.metadata.namespace, item.generatedName), name);
    item.object.metadata.name = name;
  }
  for (const { object } of items) renameReferences(object, renamed);
  return items.map((item) => item.object);
}

function build(dir: string): Item[] {
  const file = path.join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir} has no kustomization.yaml`);
  const k = readYaml(file)[0] as Json;
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_KEYS.has(key)) throw new Error(`${file}: "${key}" is not supported by the JS renderer`);
  }

  const items: Item[] = [];
  for (const entry of list<string>(k.resources)) {
    const target = path.join(dir, entry);
    if (statSync(target).isDirectory()) items.push(...build(target));
    else items.push(...readYaml(target).map((object) => ({ object: object as KubeObject })));
  }
  for (const generator of list<Json>(k.configMapGenerator)) generate(dir, 'ConfigMap', generator, items);
  for (const generator of list<Json>(k.secretGenerator)) generate(dir, 'Secret', generator, items);
  for (const patch of list<Json>(k.patches)) applyPatch(dir, patch, items);
  if (typeof k.namespace === 'string') setNamespace(items, k.namespace);
  for (const image of list<Json>(k.images)) setImage(items, image);
  return items;
}

function generate(dir: string, kind: 'ConfigMap' | 'Secret', generator: Json, items: Item[]): void {
  for (const key of Object.keys(generator)) {
    if (!GENERATOR_KEYS.has(key)) throw new Error(`${kind} generator field "${key}" is not supported`);
  }
  const name = String(generator.name);
  const pairs: [string, string][] = [];
  for (const envFile of list<string>(generator.envs)) pairs.push(...parseEnvFile(path.join(dir, envFile)));
  for (const literal of list<string>(generator.literals)) pairs.push(parseLiteral(literal));
  const data: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (key in data) throw new Error(`${kind} ${name}: key ${key} is set twice`);
    data[key] = kind === 'Secret' ? base64Lines(value) : value;
  }

  const behavior = (generator.behavior as string | undefined) ?? 'create';
  if (behavior === 'create') {
    const object: KubeObject = { apiVersion: 'v1', kind, metadata: { name }, data };
    if (kind === 'Secret') object.type = (generator.type as string | undefined) ?? 'Opaque';
    items.push({ object, generatedName: name });
    return;
  }
  const existing = items.find((item) => item.generatedName === name && item.object.kind === kind);
  if (!existing) throw new Error(`${kind} generator ${name}: behavior ${behavior} needs one from a base`);
  if (behavior === 'merge') existing.object.data = { ...(existing.object.data as Json), ...data };
  else if (behavior === 'replace') existing.object.data = data;
  else throw new Error(`${kind} generator ${name}: behavior ${behavior} is not supported`);
}

/** Base64 as kustomize writes Secret data: values of 70 characters or more are cut into 70-character lines. */
function base64Lines(value: string): string {
  const encoded = Buffer.from(value).toString('base64');
  if (encoded.length < 70) return encoded;
  return encoded.replace(/.{1,70}/g, (line) => `${line}\n`);
}

/** kustomize's env-file reading: `KEY=value` lines; blank lines and `#` comments are skipped. */
function parseEnvFile(file: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '').trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${file}: "${line}" is not KEY=value`);
    pairs.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return pairs;
}

function parseLiteral(literal: string): [string, string] {
  const eq = literal.indexOf('=');
  if (eq <= 0) throw new Error(`literal "${literal}" is not KEY=value`);
  let value = literal.slice(eq + 1);
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
    value = value.slice(1, -1);
  }
  return [literal.slice(0, eq), value];
}

function applyPatch(dir: string, entry: Json, items: Item[]): void {
  if (typeof entry.path !== 'string' || Object.keys(entry).length !== 1) {
    throw new Error('only `patches: - path: <strategic merge patch file>` is supported by the JS renderer');
  }
  for (const patch of readYaml(path.join(dir, entry.path)) as KubeObject[]) {
    if (Array.isArray(patch)) throw new Error(`${entry.path}: JSON 6902 patches are not supported`);
    const matches = items.filter(
      ({ object, generatedName }) =>
        object.kind === patch.kind && (generatedName ?? object.metadata.name) === patch.metadata.name,
    );
    if (matches.length !== 1) throw new Error(`${entry.path}: patch matches ${matches.length} objects, not 1`);
    const { apiVersion: _apiVersion, kind: _kind, ...changes } = patch;
    const { name: _name, ...metadataChanges } = changes.metadata;
    mergePatch(matches[0]!.object, { ...changes, metadata: metadataChanges });
  }
}

function mergePatch(target: Json, patch: Json): void {
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw new Error(`patch directive ${key} is not supported`);
    const current = target[key];
    if (value === null) delete target[key];
    else if (isObject(value) && isObject(current)) mergePatch(current, value);
    else if (Array.isArray(value) && Array.isArray(current) && MERGE_KEYS[key] !== undefined) {
      const mergeKey = MERGE_KEYS[key];
      for (const patchItem of value as Json[]) {
        const existing = (current as Json[]).find((item) => item[mergeKey] === patchItem[mergeKey]);
        if (existing) mergePatch(existing, patchItem);
        else current.push(structuredClone(patchItem));
      }
    } else target[key] = structuredClone(value);
  }
}

function setNamespace(items: Item[], namespace: string): void {
  for (const { object } of items) {
    // kustomize renames Namespace objects to the kustomization's namespace.
    if (object.kind === 'Namespace') object.metadata.name = namespace;
    else if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = namespace;
    if (object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') {
      throw new Error('namespaces of RoleBinding subjects are not supported by the JS renderer');
    }
  }
}

function setImage(items: Item[], image: Json): void {
  const name = String(image.name);
  for (const { object } of items) {
    for (const container of containersOf(object)) {
      const current = String(container.image);
      const match = /^(.*?)(?::([^:/@]+))?(?:@(.+))?$/.exec(current);
      if (!match || match[1] !== name) continue;
      const newName = (image.newName as string | undefined) ?? name;
      if (image.digest !== undefined) container.image = `${newName}@${String(image.digest)}`;
      else {
        const tag = (image.newTag as string | undefined) ?? match[2];
        const digest = image.newTag === undefined ? match[3] : undefined;
        container.image = `${newName}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
      }
    }
  }
}

function podSpecOf(object: KubeObject): Json | undefined {
  const specPath = WORKLOAD_POD_SPEC[object.kind];
  if (!specPath) return undefined;
  let node: unknown = object;
  for (const key of specPath) node = isObject(node) ? node[key] : undefined;
  return isObject(node) ? node : undefined;
}

function containersOf(object: KubeObject): Json[] {
  const spec = podSpecOf(object);
  if (!spec) return [];
  return [...list<Json>(spec.initContainers), ...list<Json>(spec.containers)];
}

/** Points envFrom, env and volume references at the hash-suffixed names of generated objects. */
function renameReferences(object: KubeObject, renamed: Map<string, string>): void {
  const spec = podSpecOf(object);
  if (!spec || renamed.size === 0) return;
  const ns = object.metadata.namespace;
  const rename = (holder: unknown, field: string, kind: 'ConfigMap' | 'Secret') => {
    if (!isObject(holder) || typeof holder[field] !== 'string') return;
    const name = renamed.get(refKey(kind, ns, holder[field]));
    if (name) holder[field] = name;
  };
  for (const container of containersOf(object)) {
    for (const source of list<Json>(container.envFrom)) {
      rename(source.configMapRef, 'name', 'ConfigMap');
      rename(source.secretRef, 'name', 'Secret');
    }
    for (const variable of list<Json>(container.env)) {
      const from = variable.valueFrom;
      if (!isObject(from)) continue;
      rename(from.configMapKeyRef, 'name', 'ConfigMap');
      rename(from.secretKeyRef, 'name', 'Secret');
    }
  }
  for (const volume of list<Json>(spec.volumes)) {
    rename(volume.configMap, 'name', 'ConfigMap');
    rename(volume.secret, 'secretName', 'Secret');
    if (isObject(volume.projected)) {
      for (const source of list<Json>(volume.projected.sources)) {
        rename(source.configMap, 'name', 'ConfigMap');
        rename(source.secret, 'name', 'Secret');
      }
    }
  }
}

/**
 * kustomize's name suffix: sha256 of a Go-style JSON encoding of kind, type and data, first ten hex
 * digits with vowel-like digits swapped for consonants. kustomize looks the name up under a path it
 * never finds, so the name always enters the hash as "".
 */
export function contentHash(object: KubeObject): string {
  const fields: Json =
    object.kind === 'Secret'
      ? { kind: 'Secret', type: object.type ?? '', name: '', data: object.data ?? {} }
      : { kind: 'ConfigMap', name: '', data: object.data ?? {} };
  const hex = createHash('sha256').update(goJson(fields)).digest('hex');
  return hex.slice(0, 10).replace(/[013ae]/g, (digit) => ({ 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' })[digit]!);
}

/** JSON as Go's encoding/json writes it: map keys sorted, and <, >, & escaped. */
function goJson(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((key) => [key, sorted(v[key])]),
        )
      : v;
  return JSON.stringify(sorted(value)).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function refKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

function readYaml(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
