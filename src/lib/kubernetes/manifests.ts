/**
 * kubernetes/: running the collectors as Kubernetes CronJobs: the manifests (this module), the
 * time-span to cron mapping (schedule.ts) and a small YAML writer (yaml.ts). Pure functions of
 * plain data; it may import schedule/ and platform/; nothing but cli/ imports it.
 *
 * Kubernetes manifests for the collectors (`metrics kubernetes generate`): plain YAML, one object
 * per file, and a `kustomization.yaml` listing them (so `kubectl apply -k DIR` and kustomize
 * overlays work, and so does `kubectl apply -f DIR`).
 *
 * - One `CronJob` per collector: its RUN_INTERVAL as `schedule` with `timeZone: Etc/UTC`
 *   (schedule.ts: a cron expression exactly, a time span as the nearest regular schedule, with a
 *   comment when that is not exact), `concurrencyPolicy: Forbid` (never two runs of a collector),
 *   `startingDeadlineSeconds` (half the shortest gap between runs: a run that cannot start by then
 *   is skipped, the next one is near), `activeDeadlineSeconds` (the collector's time limit
 *   METRICS_TIMEOUT plus time to start, replay the outbox and write the collector_run points; like
 *   the systemd unit's RuntimeMaxSec=15min over the 600 s default), `backoffLimit: 0` (a failed run
 *   is not retried at once: the next scheduled run replays the outbox, as under systemd), history
 *   limits.
 * - The pod mirrors the systemd hardening: a non-root numeric user (the image's, see the
 *   Containerfile), read-only root file system, every capability dropped, no privilege escalation,
 *   `seccompProfile: RuntimeDefault`, no service account token, no service links (a Service named
 *   `influxdb` would otherwise set `INFLUXDB_PORT=tcp://…` in the environment). It meets the Pod
 *   Security Standard "restricted".
 * - The pod's `hostname` is the CronJob's name, the same for every run of a collector: the
 *   `host` tag of the collector_run points stays one series instead of one per pod, and the lock
 *   files' owner check (host, pid, start time, boot id) recognizes a lock left by a killed pod of
 *   the same collector as stale.
 * - Configuration: a `ConfigMap` with the non-secret variables (`envFrom`), the ones to fill in
 *   written as comments; the secrets (`INFLUX_TOKEN`, `INFLUXDB_PASSWORD`) from a `Secret` the
 *   operator creates, mounted read-only as files and read through `INFLUX_TOKEN_FILE` /
 *   `INFLUXDB_PASSWORD_FILE`, never put into the environment.
 * - State (outbox, locks, last runs) on a volume at STATE_DIRECTORY, so that the delivery
 *   guarantees hold across pods: `pvc` (default) one ReadWriteOnce PersistentVolumeClaim per
 *   collector (works with any storage class; Forbid means one pod at a time uses it);
 *   `shared-pvc` one ReadWriteMany claim for all collectors (one outbox, as on one host; needs a
 *   storage class that offers ReadWriteMany); `emptydir` no persistent state: a warning says that
 *   points waiting in the outbox are lost when the pod ends.
 * - `/tmp` is a small emptyDir (the root file system is read-only).
 *
 * Pure: takes plain data (`{ name, runInterval }`) and options, returns the files; nothing is read
 * or written here.
 */
import { UsageError, errorMessage } from '../platform/errors.js';
import { formatSize } from '../platform/setting-rules.js';
import { DEFAULT_OUTBOX_MAX_BYTES, DEFAULT_TIMEOUT_SEC, MAX_TIMER_SECONDS, OUTBOX_SIZE_RULE, TIMEOUT_RULE } from '../platform/settings.js';
import { commented, stripComments, toYaml, type Commented } from './yaml.js';
import { formatSeconds, kubernetesSchedule, type KubernetesSchedule } from './schedule.js';

/** The user and group the image runs as (the Containerfile's `USER`); the tests compare them. */
export const CONTAINER_UID = 1000;
export const CONTAINER_GID = 1000;
/** Where the state volume is mounted (STATE_DIRECTORY), the secret files, and the scratch /tmp. */
export const STATE_MOUNT = '/var/lib/metrics';
export const SECRET_MOUNT = '/run/secrets/metrics';
/** The secrets a collector run reads from files (`<NAME>_FILE`). */
export const SECRET_KEYS = ['INFLUX_TOKEN', 'INFLUXDB_PASSWORD'] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];
export type StateVolume = 'pvc' | 'shared-pvc' | 'emptydir';

export const DEFAULTS = {
  prefix: 'metrics',
  /** METRICS_TIMEOUT's default */
  timeoutSec: DEFAULT_TIMEOUT_SEC,
  /** added to the time limit for start-up, the outbox replay and the collector_run points */
  startupSec: 300,
  storageSize: '1Gi',
  /** METRICS_OUTBOX_MAX_SIZE's default */
  outboxMaxSize: formatSize(DEFAULT_OUTBOX_MAX_BYTES),
  successfulJobsHistoryLimit: 1,
  failedJobsHistoryLimit: 3,
  /** Kubernetes' CronJob controller looks every 10 s: a shorter starting deadline can miss runs */
  minStartingDeadlineSec: 10,
} as const;

export interface CollectorInput {
  name: string;
  runInterval: string;
  /** a broken collector (discovery's error): skipped, named in `skipped` */
  error?: string;
}

export interface KubernetesOptions {
  /** the container image (default: `defaultImage()` of the package) */
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** name prefix of every object: `<prefix>-<collector>`, `<prefix>-config`; default `metrics` */
  prefix?: string;
  /** written into kustomization.yaml (`namespace:`); the objects themselves carry none */
  namespace?: string;
  /** where the outbox and locks live; default `pvc` */
  state?: StateVolume;
  /** storageClassName of the claims (default: the cluster's default class) */
  storageClass?: string;
  /** size of each claim (or the emptyDir's sizeLimit), a Kubernetes quantity; default 1Gi */
  storageSize?: string;
  /** METRICS_OUTBOX_MAX_SIZE in the ConfigMap; keep it below the volume size; default 256M */
  outboxMaxSize?: string;
  /** the Secret holding the credentials (default `<prefix>-influx`); '' for none */
  secretName?: string;
  /** its keys, each mounted as a file and read through `<KEY>_FILE`; default INFLUX_TOKEN */
  secretKeys?: SecretKey[];
  /** METRICS_TIMEOUT, the collector's time limit in seconds; default 600 */
  timeoutSec?: number;
  /** activeDeadlineSeconds of a run; default timeoutSec + 300, and it must exceed timeoutSec */
  activeDeadlineSec?: number;
  /** spread time-span schedules by a stable per-collector offset (schedule.ts) */
  spread?: boolean;
}

export interface GeneratedManifest {
  /** file name in the output directory */
  file: string;
  kind: string;
  name: string;
  /** the object as written (comments stripped): what a YAML parser reads back */
  object: Record<string, unknown>;
  /** the YAML text */
  yaml: string;
}

export interface KubernetesManifests {
  /** the objects, in apply order: ConfigMap, claims, CronJobs */
  manifests: GeneratedManifest[];
  /** kustomization.yaml listing them */
  kustomization: string;
  /** collector name → its schedule */
  schedules: Map<string, KubernetesSchedule>;
  /** things the operator must know (inexact schedules, an outbox that does not survive the pod) */
  warnings: string[];
  /** collectors without a CronJob, and why */
  skipped: Array<{ name: string; error: string }>;
}

/** `<package name>:<version>`: what `podman build -t … -f Containerfile .` is told to tag, by default. */
export function defaultImage(pkg: { name: string; version: string }): string {
  return `${pkg.name}:${pkg.version}`;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
/** a Kubernetes resource quantity (apimachinery's grammar), e.g. 1Gi, 500Mi, 2G */
const QUANTITY = /^[+-]?(\d+|\d+\.\d*|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;
/** a CronJob name is at most 52 characters: its Jobs add 11 */
const MAX_CRONJOB_NAME = 52;
const HEADER = [
  'Generated by "metrics kubernetes generate" (influx-collectors). Regenerate rather than edit;',
  'adapt it with kustomize overlays (see the README, "Running on Kubernetes").',
];

/** The Kubernetes name of a collector's objects: `<prefix>-<name>`, lower case, `_` as `-`. */
export function kubernetesName(prefix: string, collector: string): string {
  return `${prefix}-${collector.toLowerCase().replace(/_/g, '-')}`;
}

interface Resolved {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  prefix: string;
  namespace?: string;
  state: StateVolume;
  storageClass?: string;
  storageSize: string;
  outboxMaxSize: string;
  secretName?: string;
  secretKeys: SecretKey[];
  timeoutSec: number;
  activeDeadlineSec: number;
  spread: boolean;
}

function resolve(opts: KubernetesOptions): Resolved {
  const prefix = opts.prefix ?? DEFAULTS.prefix;
  if (!DNS_LABEL.test(prefix) || prefix.length > 30) {
    throw new UsageError(
      `--prefix ${JSON.stringify(prefix)} is not valid: use at most 30 lower-case letters, digits and "-", starting and ending with ` +
        `a letter or digit (it starts every object name)`,
    );
  }
  const image = opts.image;
  if (!image || /\s/.test(image))
    throw new UsageError(`--image ${JSON.stringify(image)} is not an image reference (e.g. registry.example/influx-collectors:0.1.0)`);
  if (opts.namespace !== undefined && (!DNS_LABEL.test(opts.namespace) || opts.namespace.length > 63)) {
    throw new UsageError(
      `--namespace ${JSON.stringify(opts.namespace)} is not a valid namespace name (lower-case letters, digits and "-", at most 63)`,
    );
  }
  const state = opts.state ?? 'pvc';
  if (!['pvc', 'shared-pvc', 'emptydir'].includes(state))
    throw new UsageError(`--state must be pvc, shared-pvc or emptydir, got ${JSON.stringify(state)}`);
  if (opts.storageClass !== undefined && (!DNS_SUBDOMAIN.test(opts.storageClass) || opts.storageClass.length > 253)) {
    throw new UsageError(`--storage-class ${JSON.stringify(opts.storageClass)} is not a valid storage class name`);
  }
  const storageSize = opts.storageSize ?? DEFAULTS.storageSize;
  if (!QUANTITY.test(storageSize))
    throw new UsageError(`--storage-size ${JSON.stringify(storageSize)} is not a Kubernetes quantity such as 1Gi or 500Mi`);
  const outboxMaxSize = opts.outboxMaxSize ?? DEFAULTS.outboxMaxSize;
  // the value lands in METRICS_OUTBOX_MAX_SIZE: checked by the rule the runs will read it with
  const size = OUTBOX_SIZE_RULE.check('--outbox-max-size', outboxMaxSize);
  if (!size.ok) throw new UsageError(`${size.problem} (see METRICS_OUTBOX_MAX_SIZE in the README)`);
  const secretName = opts.secretName === undefined ? `${prefix}-influx` : opts.secretName || undefined;
  if (secretName !== undefined && (!DNS_SUBDOMAIN.test(secretName) || secretName.length > 253)) {
    throw new UsageError(`--secret ${JSON.stringify(secretName)} is not a valid Secret name (lower-case letters, digits, "-" and ".")`);
  }
  const secretKeys = [...new Set<SecretKey>(opts.secretKeys ?? ['INFLUX_TOKEN'])];
  for (const k of secretKeys) {
    if (!SECRET_KEYS.includes(k)) throw new UsageError(`--secret-key ${JSON.stringify(k)} is not one of ${SECRET_KEYS.join(', ')}`);
  }
  const timeoutSec = opts.timeoutSec ?? DEFAULTS.timeoutSec;
  if (TIMEOUT_RULE.rangeProblem('--timeout', timeoutSec)) {
    throw new UsageError(
      `--timeout ${timeoutSec} must be a number of seconds greater than 0 and at most ${MAX_TIMER_SECONDS} (as METRICS_TIMEOUT)`,
    );
  }
  const activeDeadlineSec = opts.activeDeadlineSec ?? Math.ceil(timeoutSec) + DEFAULTS.startupSec;
  if (!Number.isInteger(activeDeadlineSec) || activeDeadlineSec <= timeoutSec) {
    throw new UsageError(
      `--active-deadline ${activeDeadlineSec} must be a whole number of seconds ` +
        `greater than the collector time limit (--timeout ${timeoutSec}): ` +
        'otherwise Kubernetes kills a slow run before the collector reports it and writes its collector_run point',
    );
  }
  return {
    image,
    imagePullPolicy: opts.imagePullPolicy ?? 'IfNotPresent',
    prefix,
    namespace: opts.namespace,
    state,
    storageClass: opts.storageClass,
    storageSize,
    outboxMaxSize,
    secretName,
    secretKeys,
    timeoutSec,
    activeDeadlineSec,
    spread: opts.spread ?? false,
  };
}

function labels(r: Resolved, collector?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'influx-collectors',
    'app.kubernetes.io/part-of': r.prefix,
    ...(collector ? { 'app.kubernetes.io/component': 'collector', 'app.kubernetes.io/instance': collector } : {}),
  };
}

function claim(r: Resolved, name: string, accessMode: 'ReadWriteOnce' | 'ReadWriteMany', collector?: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, labels: labels(r, collector) },
    spec: {
      accessModes: [accessMode],
      ...(r.storageClass ? { storageClassName: r.storageClass } : {}),
      resources: { requests: { storage: r.storageSize } },
    },
  };
}

function configMap(r: Resolved): Record<string, unknown> {
  const secret = r.secretName ? `the Secret ${r.secretName}` : 'a Secret (none configured: see --secret)';
  const fill = [
    'FILL IN one of the two connections below (remove the "# " of its lines), then apply again.',
    `InfluxDB 2.x/3.x, or 1.8+ through its compatibility API (the token, INFLUX_TOKEN, comes from ${secret}):`,
    'INFLUX_URL: "https://influxdb.example:8086"',
    'INFLUX_ORG: my-org',
    'INFLUX_BUCKET: metrics',
    `InfluxDB 1.x (the password, INFLUXDB_PASSWORD, if any, comes from ${secret}):`,
    'INFLUXDB_HOSTNAME: influxdb.monitoring.svc.cluster.local',
    'INFLUXDB_PORT: "8086"',
    'INFLUXDB_DATABASE: metrics',
    'INFLUXDB_USERNAME: metrics',
    '',
    'Optional, with their defaults in the README ("Configuration"): INFLUXDB_SSL, INFLUXDB_RETENTION_POLICY,',
    'INFLUX_API_VERSION, INFLUX_TIMEOUT, INFLUX_BATCH_SIZE, INFLUX_MAX_RETRIES, INFLUX_RETRY_DELAY,',
    'INFLUX_MAX_RETRY_DELAY, INFLUX_GZIP_THRESHOLD, INFLUX_CA_FILE (mount the file), INFLUX_TLS_INSECURE,',
    "METRICS_LOG_PATH, METRICS_EVENT_SINKS, and the collectors' own variables (see their READMEs).",
    'PROMTAIL_PUSH_API_URL only when it holds no credentials. Never put INFLUX_TOKEN or INFLUXDB_PASSWORD',
    'here: a ConfigMap is not secret.',
  ];
  const volume = r.state === 'emptydir' ? `the emptyDir's sizeLimit (${r.storageSize})` : `the volume size (${r.storageSize})`;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${r.prefix}-config`, labels: labels(r) },
    data: {
      // the lines to fill in go inside `data`, so that removing "# " gives the right indentation
      METRICS_TIMEOUT: commented(
        String(r.timeoutSec),
        [...fill, ''],
        `the collector time limit; below activeDeadlineSeconds (${r.activeDeadlineSec}): regenerate with --timeout to change both`,
      ),
      METRICS_OUTBOX_MAX_SIZE: commented(r.outboxMaxSize, [], `keep it below ${volume}`),
    },
  };
}

function cronJob(r: Resolved, collector: string, name: string, schedule: KubernetesSchedule): Record<string, unknown> {
  const scheduleComments = [
    `RUN_INTERVAL: ${schedule.asked}.`,
    ...(schedule.note ? [`NOT EXACT: ${schedule.note}.`] : []),
    ...(schedule.spanSec !== undefined
      ? ['A time span counts from the end of the previous run under systemd; here runs start on the clock.']
      : []),
  ];
  const startingDeadline = Math.max(DEFAULTS.minStartingDeadlineSec, Math.floor(schedule.shortestGapSec / 2));
  const env: Array<Record<string, string>> = [{ name: 'STATE_DIRECTORY', value: STATE_MOUNT }];
  if (r.secretName) for (const key of r.secretKeys) env.push({ name: `${key}_FILE`, value: `${SECRET_MOUNT}/${key}` });
  const volumeMounts: Array<Record<string, unknown>> = [
    { name: 'state', mountPath: STATE_MOUNT },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (r.secretName) volumeMounts.push({ name: 'influx-secret', mountPath: SECRET_MOUNT, readOnly: true });
  const stateVolume =
    r.state === 'emptydir'
      ? commented(
          { name: 'state', emptyDir: { sizeLimit: r.storageSize } },
          'emptyDir (--state emptydir): the outbox and the locks end with the pod',
        )
      : { name: 'state', persistentVolumeClaim: { claimName: r.state === 'pvc' ? `${name}-state` : `${r.prefix}-state` } };
  const volumes: unknown[] = [stateVolume, { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }];
  if (r.secretName) {
    volumes.push({
      name: 'influx-secret',
      secret: {
        secretName: r.secretName,
        // 0440: the files are group-owned by fsGroup, so the non-root user reads them; nobody writes
        defaultMode: commented(0o440, [], '0440'),
        items: r.secretKeys.map((key) => ({ key, path: key })),
      },
    });
  }
  const podLabels = labels(r, collector);
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, labels: podLabels, annotations: { 'influx-collectors/run-interval': schedule.asked } },
    spec: {
      schedule: commented(schedule.schedule, scheduleComments, schedule.described),
      timeZone: 'Etc/UTC',
      concurrencyPolicy: commented('Forbid', 'never two runs of one collector at once (the lock would make the second exit 4)'),
      startingDeadlineSeconds: commented(
        startingDeadline,
        [],
        `half the shortest gap between runs (${formatSeconds(schedule.shortestGapSec)})`,
      ),
      successfulJobsHistoryLimit: DEFAULTS.successfulJobsHistoryLimit,
      failedJobsHistoryLimit: DEFAULTS.failedJobsHistoryLimit,
      jobTemplate: {
        metadata: { labels: podLabels },
        spec: {
          backoffLimit: commented(0, 'a failed run is not retried at once: the next run replays the outbox'),
          activeDeadlineSeconds: commented(
            r.activeDeadlineSec,
            [],
            `METRICS_TIMEOUT (${r.timeoutSec} s) plus ${r.activeDeadlineSec - Math.ceil(r.timeoutSec)} s to start and deliver`,
          ),
          template: {
            metadata: { labels: podLabels },
            spec: {
              restartPolicy: 'Never',
              hostname: commented(name, 'the same for every run: one "host" series, and locks of killed pods are recognized as stale'),
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: CONTAINER_UID,
                runAsGroup: CONTAINER_GID,
                fsGroup: CONTAINER_GID,
                fsGroupChangePolicy: 'OnRootMismatch',
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: 'collector',
                  image: r.image,
                  imagePullPolicy: r.imagePullPolicy,
                  args: commented(['run', collector], 'the image runs "node bin/metrics" (see the Containerfile)'),
                  envFrom: [{ configMapRef: { name: `${r.prefix}-config` } }],
                  env,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    runAsNonRoot: true,
                    privileged: false,
                    capabilities: { drop: ['ALL'] },
                    seccompProfile: { type: 'RuntimeDefault' },
                  },
                  resources: {
                    requests: { cpu: '50m', memory: '128Mi' },
                    limits: { memory: '512Mi' },
                  },
                  volumeMounts,
                },
              ],
              volumes,
            },
          },
        },
      },
    },
  };
}

function manifest(file: string, value: Record<string, unknown> | Commented): GeneratedManifest {
  const object = stripComments(value) as Record<string, unknown>;
  const metadata = object.metadata as { name: string };
  return { file, kind: String(object.kind), name: metadata.name, object, yaml: toYaml(value, HEADER) };
}

/**
 * The manifests for these collectors. A collector that is broken, has an invalid RUN_INTERVAL or a
 * name that makes no valid Kubernetes name gets no CronJob and is listed in `skipped` (the others
 * are unaffected). Throws UsageError for invalid options (naming the option).
 */
export function generateKubernetes(collectors: readonly CollectorInput[], opts: KubernetesOptions): KubernetesManifests {
  const r = resolve(opts);
  const warnings: string[] = [];
  const skipped: Array<{ name: string; error: string }> = [];
  const schedules = new Map<string, KubernetesSchedule>();
  const claims: GeneratedManifest[] = [];
  const jobs: GeneratedManifest[] = [];
  const names = new Map<string, string>();
  for (const c of [...collectors].sort((a, b) => a.name.localeCompare(b.name))) {
    if (c.error) {
      skipped.push({ name: c.name, error: c.error });
      continue;
    }
    const name = kubernetesName(r.prefix, c.name);
    if (!DNS_LABEL.test(name) || name.length > MAX_CRONJOB_NAME) {
      skipped.push({
        name: c.name,
        error:
          `collector "${c.name}" makes the Kubernetes name "${name}", which is not a valid CronJob name (lower-case letters, ` +
          `digits and "-", at most ${MAX_CRONJOB_NAME} characters, starting and ending with a letter or digit): rename the collector ` +
          `folder or use a shorter --prefix`,
      });
      continue;
    }
    const clash = names.get(name);
    if (clash !== undefined) {
      skipped.push({
        name: c.name,
        error: `collectors "${clash}" and "${c.name}" both make the Kubernetes name "${name}": rename one of the folders`,
      });
      continue;
    }
    let schedule: KubernetesSchedule;
    try {
      schedule = kubernetesSchedule(c.runInterval, c.name, { spread: r.spread });
    } catch (error) {
      skipped.push({ name: c.name, error: errorMessage(error) });
      continue;
    }
    names.set(name, c.name);
    schedules.set(c.name, schedule);
    if (schedule.note) warnings.push(`collector "${c.name}": ${schedule.note}; the CronJob ${name} says so in a comment`);
    if (r.state === 'pvc') claims.push(manifest(`pvc-${name}-state.yaml`, claim(r, `${name}-state`, 'ReadWriteOnce', c.name)));
    jobs.push(manifest(`cronjob-${name}.yaml`, cronJob(r, c.name, name, schedule)));
  }
  if (r.state === 'shared-pvc') claims.unshift(manifest(`pvc-${r.prefix}-state.yaml`, claim(r, `${r.prefix}-state`, 'ReadWriteMany')));
  if (r.state === 'emptydir') {
    warnings.push(
      '--state emptydir: the outbox and the locks live in the pod and end with it: when InfluxDB is unavailable, the points a run ' +
        'defers to the outbox are LOST when its pod ends (exit 3 then means lost, not waiting). Use --state pvc (the default) to keep them',
    );
  }
  const manifests = [manifest('configmap.yaml', configMap(r)), ...claims, ...jobs];
  const kustomization = toYaml(
    {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      ...(r.namespace ? { namespace: r.namespace } : {}),
      resources: manifests.map((m) => m.file),
    },
    [
      ...HEADER,
      r.secretName
        ? `Create the Secret ${r.secretName} first (see the README): the CronJobs mount it.`
        : 'No Secret: the runs get no credentials (--secret "").',
    ],
  );
  return { manifests, kustomization, schedules, warnings, skipped };
}
