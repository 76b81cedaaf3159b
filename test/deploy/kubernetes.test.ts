import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';

import { ENV_VARS, loadConfig } from '../../src/config/config.js';
import { PROBE_PATHS, SERVICE_NAMES, SERVICES, type ServiceName } from '../../src/config/service-table.js';
import { parseAzureUrl } from '../../src/storage/azure/azure-store.js';
import { parseS3Url } from '../../src/storage/s3/s3-store.js';
import {
  containers,
  findOne,
  imageName,
  initContainers,
  isPixaImage,
  K8S_DIR,
  kustomizationDirs,
  plainData,
  podSpec,
  render,
  RENDERER,
  ROOT,
  type Container,
  type Json,
  type KubeObject,
} from './manifests.js';

type Model = new (data: never) => { validate(): void };

/** The Kubernetes schema of every kind the manifests may contain. A new kind must be added here. */
const MODELS: Record<string, Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'storage.k8s.io/v1/StorageClass': StorageClass,
};

/** Keys whose values are credentials: they belong in a Secret, never in a ConfigMap. */
const SENSITIVE_KEY = /PASSWORD|SECRET|TOKEN|CONNECTION_STRING/;
/** A URL with a password in it: `scheme://user:password@host` or a secret query parameter. */
const URL_WITH_PASSWORD =
  /^[a-z][a-z0-9+.-]*:\/\/([^/@:]+:[^/@]+@|.*[?&](password|secretAccessKey|sessionToken|sig)=)/i;

/**
 * kustomize cuts long base64 Secret values into lines, which the API server decodes (Go's base64 skips
 * newlines) but the schema's "byte" format does not allow; the schema sees the joined value.
 */
function forSchema(object: KubeObject): KubeObject {
  if (object.kind !== 'Secret' || !object.data) return object;
  const data = Object.entries(object.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\n/g, '')]);
  return { ...object, data: Object.fromEntries(data) };
}

const relative = (dir: string) => path.relative(K8S_DIR, dir);
const dirs = kustomizationDirs();
const overlays = dirs.filter((dir) => relative(dir).startsWith('overlays/'));

/** Keys of the Secret pixa-secrets that the deploy workflow creates from repository secrets (aks). */
function workflowSecretKeys(): string[] {
  const workflow = readFileSync(path.join(ROOT, '.github/workflows/pipeline.yml'), 'utf8');
  return [...workflow.matchAll(/--from-literal=([A-Za-z0-9_]+)=/g)].map((match) => match[1]!);
}

/** Values of the shape deploy/k8s/README.md asks for, for secrets that come from outside the overlay. */
const EXAMPLE_SECRETS: Record<string, string> = {
  PIXA_DATABASE_URL: 'mysql://pixa:p%40ss@pixa-mysql.mysql.database.azure.com:3306/pixa?ssl=true',
  PIXA_AZURE_CONNECTION_STRING:
    'DefaultEndpointsProtocol=https;AccountName=pixa;AccountKey=a2V5;EndpointSuffix=core.windows.net',
};

/** Where each overlay's Secret pixa-secrets comes from when the overlay itself does not generate it. */
const EXTERNAL_SECRETS: Record<string, () => string[]> = { 'overlays/aks': workflowSecretKeys };

function pixaDeployment(objects: KubeObject[]): { deployment: KubeObject; spec: Json } {
  const deployment = findOne(objects, 'Deployment', 'pixa');
  return { deployment, spec: podSpec(deployment)! };
}

function envValue(container: Container, name: string): string | undefined {
  const env = (container.env as { name: string; value?: string }[] | undefined) ?? [];
  return env.find((variable) => variable.name === name)?.value;
}

/** A probe's or Service's port, with a named port resolved to the container port it names. */
function resolvePort(port: unknown, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  const ports = (container.ports as { name?: string; containerPort: number }[] | undefined) ?? [];
  return ports.find((p) => p.name === port)?.containerPort;
}

function matchesSelector(labels: Json, selector: Json | undefined): boolean {
  const matchLabels = (selector?.matchLabels ?? selector ?? {}) as Json;
  return Object.keys(matchLabels).length > 0 && Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

function preStopSleepSeconds(container: Container): number {
  const command = (container.lifecycle as { preStop?: { exec?: { command?: string[] } } } | undefined)?.preStop?.exec
    ?.command;
  return command?.[0] === 'sleep' ? Number(command[1]) : 0;
}

/** Every container in the rendered objects that runs the Pixa image, with its pod spec and owner. */
function pixaContainers(objects: KubeObject[]): { owner: KubeObject; spec: Json; container: Container }[] {
  const found: { owner: KubeObject; spec: Json; container: Container }[] = [];
  for (const owner of objects) {
    const spec = podSpec(owner);
    if (!spec) continue;
    for (const container of [...initContainers(spec), ...containers(spec)]) {
      if (isPixaImage(container.image)) found.push({ owner, spec, container });
    }
  }
  return found;
}

/**
 * The environment a container starts with: its ConfigMaps and Secrets (envFrom, later sources win,
 * as in Kubernetes) and then its own env. Secrets that come from outside the overlay get placeholders.
 */
function containerEnv(objects: KubeObject[], container: Container, externalSecretKeys: string[]) {
  const env: Record<string, string> = {};
  for (const source of (container.envFrom as Json[] | undefined) ?? []) {
    const ref = (source.configMapRef ?? source.secretRef) as { name: string };
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const object = objects.find((o) => o.kind === kind && o.metadata.name === ref.name);
    if (object) Object.assign(env, plainData(object));
    else if (kind === 'Secret' && ref.name === 'pixa-secrets') {
      for (const key of externalSecretKeys) env[key] = EXAMPLE_SECRETS[key] ?? `example-${key}-0123456789abcdef`;
    } else throw new Error(`${container.name} refers to ${kind} ${ref.name}, which is not rendered`);
  }
  for (const variable of (container.env as { name: string; value?: string }[] | undefined) ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
  }
  return env;
}

describe(`Kubernetes manifests (rendered with ${RENDERER})`, () => {
  it('finds the base and the aks and local overlays', () => {
    expect(dirs.map(relative)).toEqual(expect.arrayContaining(['base', 'overlays/aks', 'overlays/local']));
  });

  describe.each(dirs.map((dir) => [relative(dir), dir]))('%s', (_name, dir) => {
    const objects = render(dir);

    it('renders objects that each pass their Kubernetes schema', () => {
      expect(objects.length).toBeGreaterThan(0);
      for (const object of objects) {
        const id = `${object.apiVersion}/${object.kind}`;
        const Model = MODELS[id];
        expect(Model, `no schema registered for ${id}`).toBeDefined();
        expect(() => new Model!(forSchema(object) as never).validate(), `${id} ${object.metadata.name}`).not.toThrow();
      }
    });

    it('runs one pod of five containers, one per service, with the ports and probes of the code', () => {
      const { spec } = pixaDeployment(objects);
      const list = containers(spec);
      expect(list.map((c) => c.name).sort()).toEqual([...SERVICE_NAMES].sort());
      for (const container of list) {
        const name = container.name as ServiceName;
        const port = SERVICES[name].port;
        expect(isPixaImage(container.image), container.name).toBe(true);
        expect(envValue(container, 'PIXA_SERVICES'), container.name).toBe(name);
        expect((container.ports as { containerPort: number }[]).map((p) => p.containerPort)).toEqual([port]);
        const probes = container as unknown as Record<string, { httpGet: { path: string; port: unknown } }>;
        for (const [probe, probePath] of [
          ['livenessProbe', PROBE_PATHS.liveness],
          ['readinessProbe', PROBE_PATHS.readiness],
          ['startupProbe', PROBE_PATHS.liveness],
        ] as const) {
          expect(probes[probe]?.httpGet.path, `${name} ${probe}`).toBe(probePath);
          expect(resolvePort(probes[probe]?.httpGet.port, container), `${name} ${probe} port`).toBe(port);
        }
      }
    });

    it('runs every Pixa container non-root, read-only, without privileges, with resources and /tmp', () => {
      const { spec } = pixaDeployment(objects);
      const podSecurity = spec.securityContext as Json;
      expect(podSecurity.runAsNonRoot).toBe(true);
      expect(podSecurity.runAsUser).not.toBe(0);
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const { owner, spec: ownerSpec, container } of pixaContainers(objects)) {
        const where = `${owner.kind} ${owner.metadata.name} ${container.name}`;
        const security = container.securityContext as Json;
        expect(security.allowPrivilegeEscalation, where).toBe(false);
        expect(security.readOnlyRootFilesystem, where).toBe(true);
        expect(security.privileged ?? false, where).toBe(false);
        expect((security.capabilities as Json).drop, where).toEqual(['ALL']);
        expect((security.capabilities as Json).add, where).toBeUndefined();
        expect((ownerSpec.securityContext as Json).runAsNonRoot, where).toBe(true);
        const resources = container.resources as { requests: Json; limits: Json };
        expect(Object.keys(resources.requests).sort(), where).toEqual(['cpu', 'memory']);
        expect(resources.limits.memory, where).toBeDefined();
        if (owner === pixaDeployment(objects).deployment) {
          const mounts = (container.volumeMounts as { name: string; mountPath: string }[]) ?? [];
          const tmp = mounts.find((m) => m.mountPath === '/tmp');
          const volumes = ownerSpec.volumes as { name: string; emptyDir?: Json }[];
          expect(volumes.find((v) => v.name === tmp?.name)?.emptyDir, `${where} /tmp`).toBeDefined();
        }
      }
    });

    it('never injects Service links into Pixa pods (they would set PIXA_PORT and friends)', () => {
      for (const { owner, spec } of pixaContainers(objects)) {
        expect(spec.enableServiceLinks, `${owner.kind} ${owner.metadata.name}`).toBe(false);
      }
    });

    it('writes each service log to /mnt/<service>.log on the log volume, one directory per pod', () => {
      const { spec } = pixaDeployment(objects);
      const claim = findOne(objects, 'PersistentVolumeClaim', 'pixa-logs');
      expect((claim.spec as Json).accessModes).toBeDefined();
      const volumes = spec.volumes as { name: string; persistentVolumeClaim?: { claimName: string } }[];
      const logVolume = volumes.find((v) => v.persistentVolumeClaim?.claimName === 'pixa-logs');
      expect(logVolume).toBeDefined();
      for (const container of containers(spec)) {
        expect(envValue(container, 'PIXA_LOG_FILE')).toBe(`/mnt/${container.name}.log`);
        const mounts = container.volumeMounts as { name: string; mountPath: string; subPathExpr?: string }[];
        const mount = mounts.find((m) => m.mountPath === '/mnt');
        expect(mount?.name, container.name).toBe(logVolume!.name);
        // The variable a subPathExpr uses must be the pod's name, or pods would share one file.
        const variable = /^\$\((\w+)\)$/.exec(mount?.subPathExpr ?? '')?.[1];
        const env = (container.env as { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]) ?? [];
        expect(env.find((e) => e.name === variable)?.valueFrom?.fieldRef?.fieldPath, container.name).toBe(
          'metadata.name',
        );
      }
    });

    it('rolls out without losing capacity and lets the longest upload finish on shutdown', () => {
      const { deployment, spec } = pixaDeployment(objects);
      const deploymentSpec = deployment.spec as Json;
      expect(deploymentSpec.replicas).toBe(3);
      expect(deploymentSpec.strategy).toMatchObject({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } });
      const config = Object.fromEntries(
        Object.entries(plainData(objects.find((o) => o.kind === 'ConfigMap' && /^pixa-config/.test(o.metadata.name))!)),
      );
      const shutdownGrace = Number(config.PIXA_SHUTDOWN_GRACE_SECONDS ?? 30);
      const requestTimeout = Number(config.PIXA_REQUEST_TIMEOUT_SECONDS ?? 300);
      expect(shutdownGrace).toBeGreaterThanOrEqual(requestTimeout);
      const longestPreStop = Math.max(...containers(spec).map(preStopSleepSeconds));
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(longestPreStop + shutdownGrace);
    });

    it('exposes only the gateway, through a LoadBalancer on port 80', () => {
      const { deployment, spec } = pixaDeployment(objects);
      const podLabels = ((deployment.spec as Json).template as { metadata: { labels: Json } }).metadata.labels;
      const services = objects.filter(
        (o) => o.kind === 'Service' && matchesSelector(podLabels, (o.spec as Json).selector as Json),
      );
      expect(services.map((s) => s.metadata.name)).toEqual(['pixa']);
      const service = services[0]!.spec as { type: string; ports: { port: number; targetPort: unknown }[] };
      expect(service.type).toBe('LoadBalancer');
      expect(service.ports).toHaveLength(1);
      expect(service.ports[0]!.port).toBe(80);
      const gateway = containers(spec).find((c) => c.name === 'gateway')!;
      expect(resolvePort(service.ports[0]!.targetPort, gateway)).toBe(SERVICES.gateway.port);

      const policy = findOne(objects, 'NetworkPolicy', 'pixa').spec as Json;
      expect(matchesSelector(podLabels, policy.podSelector as Json)).toBe(true);
      const ingress = policy.ingress as { from?: unknown; ports: { port: number }[] }[];
      expect(ingress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([SERVICES.gateway.port]);
    });

    it('keeps two pods through disruptions and autoscales from three', () => {
      const { deployment } = pixaDeployment(objects);
      const podLabels = ((deployment.spec as Json).template as { metadata: { labels: Json } }).metadata.labels;
      const pdb = findOne(objects, 'PodDisruptionBudget', 'pixa').spec as Json;
      expect(pdb.minAvailable).toBe(2);
      expect(matchesSelector(podLabels, pdb.selector as Json)).toBe(true);
      const hpa = findOne(objects, 'HorizontalPodAutoscaler', 'pixa').spec as Json;
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'pixa' });
      expect(hpa.minReplicas).toBeGreaterThan(pdb.minAvailable as number);
      expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas as number);
      expect(hpa.metrics).toContainEqual({
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } },
      });
    });

    it('keeps credentials out of ConfigMaps', () => {
      for (const configMap of objects.filter((o) => o.kind === 'ConfigMap')) {
        for (const [key, value] of Object.entries(plainData(configMap))) {
          expect(key, `${configMap.metadata.name}`).not.toMatch(SENSITIVE_KEY);
          expect(value, `${configMap.metadata.name} ${key}`).not.toMatch(URL_WITH_PASSWORD);
        }
      }
    });
  });

  describe('overlays/local', () => {
    const objects = render(path.join(K8S_DIR, 'overlays/local'));

    it('gives Pixa the same credentials that the in-cluster MariaDB and MinIO are started with', () => {
      const gateway = containers(pixaDeployment(objects).spec)[0]!;
      const config = loadConfig(containerEnv(objects, gateway, []));
      const backendEnv = (deployment: string) => {
        const container = containers(podSpec(findOne(objects, 'Deployment', deployment))!)[0]!;
        return containerEnv(objects, container, []);
      };
      const mariadb = backendEnv('mariadb');
      const database = new URL(config.databaseUrl);
      expect(decodeURIComponent(database.username)).toBe(mariadb.MARIADB_USER);
      expect(decodeURIComponent(database.password)).toBe(mariadb.MARIADB_PASSWORD);
      expect(database.pathname).toBe(`/${mariadb.MARIADB_DATABASE}`);
      const minio = backendEnv('minio');
      const credentials = parseS3Url(new URL(config.storageUrl)).clientConfig.credentials as unknown as Record<
        string,
        string
      >;
      expect(credentials.accessKeyId).toBe(minio.MINIO_ROOT_USER);
      expect(credentials.secretAccessKey).toBe(minio.MINIO_ROOT_PASSWORD);
    });
  });

  describe.each(overlays.map((dir) => [relative(dir), dir]))('%s', (name, dir) => {
    const objects = render(dir);
    const externalSecretKeys = EXTERNAL_SECRETS[name]?.() ?? [];

    it('gives every Pixa container only variables that Pixa knows', () => {
      for (const { owner, container } of pixaContainers(objects)) {
        const where = `${owner.metadata.name}/${container.name}`;
        const env = containerEnv(objects, container, externalSecretKeys);
        const mountVariables = ((container.volumeMounts as { subPathExpr?: string }[] | undefined) ?? []).flatMap((m) =>
          [...(m.subPathExpr ?? '').matchAll(/\$\((\w+)\)/g)].map((match) => match[1]!),
        );
        for (const key of Object.keys(env)) {
          // The one exception: a downward-API variable that Kubernetes itself reads for a subPathExpr.
          if (mountVariables.includes(key)) continue;
          expect(Object.keys(ENV_VARS), `${where} sets ${key}`).toContain(key);
        }
      }
    });

    it('gets its Secret from the overlay or the deploy workflow, and no key from two sources', () => {
      const generated = objects.find((o) => o.kind === 'Secret' && /^pixa-secrets/.test(o.metadata.name));
      const secretKeys = generated ? Object.keys(plainData(generated)) : externalSecretKeys;
      expect(secretKeys).toEqual(expect.arrayContaining(['PIXA_AUTH_SECRET_KEY', 'PIXA_INTERNAL_TOKEN']));
      for (const key of secretKeys) expect(Object.keys(ENV_VARS)).toContain(key);
      const configMap = objects.find((o) => o.kind === 'ConfigMap' && /^pixa-config/.test(o.metadata.name))!;
      for (const key of Object.keys(plainData(configMap))) expect(secretKeys, key).not.toContain(key);
    });

    it("starts each service with a configuration Pixa's own loader accepts", () => {
      const { spec } = pixaDeployment(objects);
      for (const container of containers(spec)) {
        const name = container.name as ServiceName;
        const config = loadConfig(containerEnv(objects, container, externalSecretKeys));
        expect(config.mode).toBe('pod');
        expect(config.services).toEqual([name]);
        expect(config.ports[name]).toBe(SERVICES[name].port);
        expect(config.logFile).toBe(`/mnt/${name}.log`);
        expect(config.shutdownGraceMs).toBeGreaterThanOrEqual(config.requestTimeoutMs);
        // Replicas share one database and one object store; a pod-local SQLite file or directory would split them.
        expect(config.databaseUrl).not.toMatch(/^sqlite:/);
        expect(config.storageUrl).not.toMatch(/^file:/);
        // The kubelet probes the pod's IP, so no service may listen on loopback only.
        const listenAddress = name === 'gateway' ? config.host : config.internalHost;
        expect(listenAddress, name).not.toMatch(/^(127\.|::1$|localhost$)/);
      }
    });

    it('names a database and an object store the drivers accept, in-cluster ones by a Service that exists', () => {
      const { spec } = pixaDeployment(objects);
      const config = loadConfig(containerEnv(objects, containers(spec)[0]!, externalSecretKeys));
      // A host without a dot is a Service of the overlay's namespace, and must be one that it renders.
      const expectReachable = (url: URL, defaultPort: number) => {
        if (url.hostname.includes('.')) return;
        const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === url.hostname);
        expect(service, `Service ${url.hostname}`).toBeDefined();
        const ports = ((service!.spec as Json).ports as { port: number }[]).map((p) => p.port);
        expect(ports, url.href).toContain(Number(url.port || defaultPort));
      };
      const database = new URL(config.databaseUrl);
      expectReachable(database, database.protocol === 'postgres:' ? 5432 : 3306);
      const storage = new URL(config.storageUrl);
      if (storage.protocol === 's3:') {
        const settings = parseS3Url(storage);
        if (settings.clientConfig.endpoint) {
          // An S3-compatible server in or beside the cluster has no cloud identity to lend: keys are needed.
          expect(settings.clientConfig.credentials).toBeDefined();
          expectReachable(new URL(String(settings.clientConfig.endpoint)), 80);
        }
      } else {
        expect(storage.protocol).toBe('azure:');
        expect(() => parseAzureUrl(storage)).not.toThrow();
        expect(config.azureConnectionString).toBeDefined();
      }
    });

    it('pins every image to a tag other than latest (Pixa itself is tagged by the overlay or the pipeline)', () => {
      for (const object of objects) {
        const spec = podSpec(object);
        if (!spec) continue;
        for (const container of [...initContainers(spec), ...containers(spec)]) {
          const tag = container.image.slice(imageName(container.image).length + 1);
          if (isPixaImage(container.image) && name === 'overlays/aks') {
            // The deploy workflow sets the commit SHA on top of this overlay (see workflow.test.ts).
            expect(container.image).toBe('pixa');
            continue;
          }
          expect(tag, `${object.metadata.name}/${container.name}`).toMatch(/^[\w][\w.-]*$/);
          expect(tag).not.toBe('latest');
        }
      }
    });
  });
});
