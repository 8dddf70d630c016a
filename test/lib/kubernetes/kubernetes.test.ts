/**
 * `metrics kubernetes generate`: the YAML emitter (every document read back by a YAML 1.2 and a
 * YAML 1.1 parser), the RUN_INTERVAL → CronJob schedule mapping (checked against cron-parser over
 * a year of run times, with the largest gap of each inexact mapping reported), the manifests
 * validated offline against the Kubernetes v1.27.1 API schemas (vendored in
 * test/lib/kubernetes/fixtures/, strict: unknown fields are errors, as `kubectl --validate=strict`),
 * broken manifests rejected, the pod's hardening, the Containerfile matching the manifests, and
 * the command as a user runs it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import AjvModule from 'ajv';
import cronParser from 'cron-parser';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import {
  CONTAINER_GID,
  CONTAINER_UID,
  SECRET_MOUNT,
  STATE_MOUNT,
  defaultImage,
  generateKubernetes,
  kubernetesName,
  type CollectorInput,
  type KubernetesOptions,
} from '../../../src/lib/kubernetes/manifests.js';
import { formatSeconds, kubernetesSchedule } from '../../../src/lib/kubernetes/schedule.js';
import { YamlError, commented, stripComments, toYaml, yamlString } from '../../../src/lib/kubernetes/yaml.js';
import { repoRoot, runCli, type CliResult } from '../../helpers/servers.js';

const Ajv = AjvModule.default;
const { CronExpressionParser } = cronParser;

const root = mkdtempSync(join(tmpdir(), 'kubernetes-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** What go-yaml (kubectl) and a YAML 1.2 parser both read from `text`; they must agree. */
function readBack(text: string): unknown {
  const v12 = parseYaml(text, { strict: true, uniqueKeys: true, prettyErrors: true });
  const v11 = parseYaml(text, { version: '1.1', strict: true, uniqueKeys: true });
  assert.deepEqual(v11, v12, `YAML 1.1 and 1.2 read differently:\n${text}`);
  return v12;
}

// ---------------------------------------------------------------------------------------------
describe('YAML emitter', () => {
  const tricky = [
    '',
    ' ',
    'yes',
    'No',
    'ON',
    'off',
    'y',
    'N',
    'true',
    'False',
    'null',
    'Null',
    '~',
    '0400',
    '0x1f',
    '0o17',
    '1e3',
    '1_000',
    '.5',
    '.inf',
    '-.inf',
    '.NaN',
    '12:30',
    '12:30:00',
    '2001-12-14',
    '2001-12-14t21:59:43.10-05:00',
    '-',
    '- a',
    '? x',
    ': x',
    'a: b',
    'a #b',
    '#c',
    'a\nb',
    'line\n',
    '\ttab',
    'back\\slash',
    'quote"d',
    "it's",
    '%tag',
    '@at',
    '`tick`',
    '!bang',
    '&anchor',
    '*alias',
    '|',
    '>',
    '[x]',
    '{x}',
    ',',
    'trailing ',
    '\u0085next',
    '\u2028ls',
    '\ufeffbom',
    '\x7fdel',
    '\x00nul',
    '\x1besc',
    'héllo wörld',
    '雪',
    '🙂 emoji',
    '*/5 * * * *',
    'Etc/UTC',
    'batch/v1',
    'app.kubernetes.io/name',
    '_under',
    '/abs/path',
    'run',
    'influx-collectors:0.1.0',
    '<<',
  ];

  test('every string reads back as the same string, in YAML 1.2 and 1.1', () => {
    for (const s of tricky) {
      const text = toYaml({ key: s, list: [s], [s || 'empty']: 1 });
      assert.deepEqual(readBack(text), { key: s, list: [s], [s || 'empty']: 1 }, text);
    }
  });

  test('plain only when unambiguous: YAML 1.1 booleans, numbers and indicators are quoted', () => {
    assert.equal(yamlString('run'), 'run');
    assert.equal(yamlString('Etc/UTC'), 'Etc/UTC');
    assert.equal(yamlString('yes'), '"yes"');
    assert.equal(yamlString('0400'), '"0400"');
    assert.equal(yamlString('*/5 * * * *'), '"*/5 * * * *"');
    assert.equal(yamlString('a\nb'), '"a\\nb"');
  });

  test('nested mappings and sequences, empty ones, numbers, booleans and null read back equal', () => {
    const value = {
      a: { b: { c: [1, 2, { d: [[], {}, [3, [4, 5]], { e: null, f: true, g: false }] }] } },
      list: [{ name: 'x', items: [{ k: 'v' }] }, [], {}, -1, 0, 1.5, 123456789012, -0.25],
      empty: {},
      none: [],
      skipped: undefined,
    };
    const text = toYaml(value);
    const { skipped: _, ...expected } = value;
    assert.deepEqual(readBack(text), expected, text);
  });

  test('comments: above keys and items, after scalars; a parser ignores them', () => {
    const value = {
      top: commented('x', ['first line', 'second: line # with # signs'], 'after the value'),
      nested: commented(
        { inner: commented([commented({ a: 1 }, 'item comment'), commented(2, [], 'two')], 'above inner') },
        'above nested',
      ),
    };
    const text = toYaml(value, ['header']);
    assert.match(text, /^# header\n# first line\n# second: line # with # signs\ntop: x {2}# after the value\n/);
    assert.match(text, /\n {2}# above inner\n {2}inner:\n {4}# item comment\n {4}- a: 1\n {4}- 2 {2}# two\n/);
    assert.deepEqual(readBack(text), stripComments(value));
  });

  test('what YAML cannot hold here is refused, naming the path', () => {
    assert.throws(
      () => toYaml({ a: { b: [NaN] } }),
      (e: Error) => e instanceof YamlError && /a\.b\[0\]: NaN/.test(e.message),
    );
    assert.throws(() => toYaml({ a: Infinity }), YamlError);
    assert.throws(() => toYaml({ a: () => 1 }), YamlError);
    assert.throws(() => toYaml({ a: [undefined] }), YamlError);
  });
});

// ---------------------------------------------------------------------------------------------

const YEAR_START = Date.UTC(2025, 0, 1);
const YEAR_END = Date.UTC(2026, 0, 1);
const gapCache = new Map<string, { largest: number; shortest: number; runs: number }>();

/** Every run of `expression` (UTC) in [from, to) with cron-parser: the largest and shortest gap, in seconds. */
function gaps(expression: string, from = YEAR_START, to = YEAR_END): { largest: number; shortest: number; runs: number } {
  const key = `${expression}|${from}|${to}`;
  const cached = gapCache.get(key);
  if (cached) return cached;
  const it = CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: new Date(from - 1) });
  let prev: number | undefined;
  let largest = 0;
  let shortest = Infinity;
  let runs = 0;
  for (;;) {
    const t = it.next().getTime();
    if (t >= to) break;
    if (prev !== undefined) {
      largest = Math.max(largest, t - prev);
      shortest = Math.min(shortest, t - prev);
    }
    prev = t;
    runs++;
  }
  const result = { largest: largest / 1000, shortest: shortest / 1000, runs };
  gapCache.set(key, result);
  return result;
}

/** The run times of an expression (UTC), the first `count` after `from`. */
function runs(expression: string, count: number, from = YEAR_START): number[] {
  const it = CronExpressionParser.parse(expression, { tz: 'UTC', currentDate: new Date(from) });
  return Array.from({ length: count }, () => it.next().getTime());
}

/** robfig/cron (Kubernetes) reads day of week 0-6 only, and "*" in a day field only alone or with a step above 1. */
function assertKubernetesReadable(schedule: string): void {
  const fields = schedule.split(' ');
  assert.equal(fields.length, 5, schedule);
  for (const f of fields) assert.match(f, /^(\*|[0-9a-z]+(-[0-9a-z]+)?)(\/[0-9]+)?(,(\*|[0-9a-z]+(-[0-9a-z]+)?)(\/[0-9]+)?)*$/i, schedule);
  for (const n of fields[4]!.match(/\d+/g) ?? [])
    if (!fields[4]!.includes(`/${n}`)) assert.ok(Number(n) <= 6, `day of week ${n} in ${schedule}`);
  for (const day of [fields[2]!, fields[4]!])
    assert.ok(day === '*' || !/\*(?!\/([2-9]|[1-9][0-9]))/.test(day), `a "*" in the day field of ${schedule}`);
}

describe('RUN_INTERVAL → CronJob schedule', () => {
  const exact: Array<[string, string, number]> = [
    ['1m', '* * * * *', 60],
    ['5m', '*/5 * * * *', 300],
    ['5min', '*/5 * * * *', 300],
    ['300', '*/5 * * * *', 300],
    ['15m', '*/15 * * * *', 900],
    ['30min', '*/30 * * * *', 1800],
    ['60m', '0 * * * *', 3600],
    ['1h', '0 * * * *', 3600],
    ['2h', '0 */2 * * *', 7200],
    ['0.5h', '*/30 * * * *', 1800],
    ['12h', '0 */12 * * *', 43200],
    ['1d', '0 0 * * *', 86400],
    ['24h', '0 0 * * *', 86400],
    ['1w', '0 0 * * 0', 604800],
  ];
  for (const [span, schedule, sec] of exact) {
    test(`${span} → ${schedule}, exact: every gap over a year is ${formatSeconds(sec)}`, () => {
      const k = kubernetesSchedule(span);
      assert.equal(k.schedule, schedule);
      assert.equal(k.exact, true);
      assert.equal(k.note, undefined);
      const g = gaps(k.schedule);
      assert.equal(g.largest, sec);
      assert.equal(g.shortest, sec);
      assert.equal(k.largestGapSec, sec);
      assertKubernetesReadable(k.schedule);
    });
  }

  // the nearest regular schedule; on a tie the more frequent one
  const inexact: Array<[string, string, string]> = [
    ['30s', '* * * * *', 'every minute'],
    ['90s', '* * * * *', 'every minute'],
    ['7m', '*/6 * * * *', 'every 6 minutes'],
    ['8m', '*/6 * * * *', 'every 6 minutes'],
    ['9m', '*/10 * * * *', 'every 10 minutes'],
    ['45m', '*/30 * * * *', 'every 30 minutes'],
    ['90min', '0 * * * *', 'every hour'],
    ['1h 30min', '0 * * * *', 'every hour'],
    ['1h30m', '0 * * * *', 'every hour'],
    ['5h', '0 */4 * * *', 'every 4 hours'],
    ['2d', '0 0 * * *', 'daily'],
    ['5d', '0 0 * * 0', 'weekly'],
    ['1M', '0 0 1 * *', 'monthly (on the 1st)'],
    ['1y', '0 0 1 1 *', 'yearly (on 1 January)'],
  ];
  for (const [span, schedule, described] of inexact) {
    test(`${span} → ${schedule} (${described}), not exact: the largest gap over a year is reported`, (t) => {
      const k = kubernetesSchedule(span, 'c');
      assert.equal(k.schedule, schedule);
      assert.equal(k.exact, false);
      assert.equal(k.described, described);
      assertKubernetesReadable(k.schedule);
      // yearly: eight years, so that a leap year's 366 days are in
      const g = described.startsWith('yearly') ? gaps(k.schedule, Date.UTC(2025, 0, 1), Date.UTC(2033, 0, 2)) : gaps(k.schedule);
      assert.equal(k.largestGapSec, g.largest, 'the reported largest gap is what cron-parser finds');
      assert.equal(k.shortestGapSec, g.shortest, 'the reported shortest gap is what cron-parser finds');
      assert.ok(k.note?.includes(`the largest gap is ${formatSeconds(g.largest)} against the ${formatSeconds(k.spanSec!)} asked`), k.note);
      const error = ((g.largest - k.spanSec!) / k.spanSec!) * 100;
      t.diagnostic(
        `RUN_INTERVAL '${span}' → '${k.schedule}' (${described}): ${g.runs} runs in the period; ` +
          `largest gap ${formatSeconds(g.largest)}, shortest ${formatSeconds(g.shortest)}, against ${formatSeconds(k.spanSec!)} asked ` +
          `(${error >= 0 ? '+' : ''}${error.toFixed(1)} %)`,
      );
    });
  }

  test('nearest means nearest: no other regular schedule is closer to the span', () => {
    const periods = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 10080].map((m) => m * 60);
    for (let sec = 30; sec <= 8 * 86400; sec = Math.ceil(sec * 1.13)) {
      const k = kubernetesSchedule(`${sec}s`);
      const best = Math.min(...periods.map((p) => Math.abs(p - sec)));
      if (sec <= 14 * 86400) assert.equal(Math.abs(k.largestGapSec - sec), best, `${sec}s → ${k.schedule}`);
    }
  });

  test('a cron expression maps exactly: the same runs as cron-parser, with Sunday as 0 and no "*/1" in a day field', () => {
    const cases: Array<[string, string]> = [
      ['*/15 * * * *', '*/15 * * * *'],
      ['0 6 * * mon-fri', '0 6 * * mon-fri'],
      ['@daily', '0 0 * * *'],
      ['@weekly', '0 0 * * 0'],
      ['0 0 * * 7', '0 0 * * 0'],
      ['0 0 * * 5-7', '0 0 * * 0,5,6'],
      ['0 12 * * 1-7/2', '0 12 * * 0,1,3,5'],
      ['0 0 1 * 7', '0 0 1 * 0'],
      ['0 0 */1 * 1', '0 0 1-31 * 1'],
      ['0 0 1 * */1', '0 0 1 * 0-6'],
      ['0 0 */2 * 1', '0 0 */2 * 1'],
      ['5/15 9-17 * jan,jul *', '5/15 9-17 * jan,jul *'],
      ['0 0 1,15 * mon', '0 0 1,15 * mon'],
    ];
    for (const [runInterval, schedule] of cases) {
      const k = kubernetesSchedule(runInterval);
      assert.equal(k.schedule, schedule, runInterval);
      assert.equal(k.exact, true);
      assertKubernetesReadable(k.schedule);
      const expression = k.asked.replace(/^cron '(.*)' \(UTC\)$/, '$1');
      assert.deepEqual(runs(k.schedule, 400), runs(expression, 400), `${runInterval}: ${k.schedule} fires at other times`);
    }
  });

  test('--spread moves a time span by a stable offset from the name; the gaps stay', () => {
    for (const [span, period] of [
      ['5m', 300],
      ['2h', 7200],
      ['1d', 86400],
    ] as const) {
      const a = kubernetesSchedule(span, 'sponsoring', { spread: true });
      assert.equal(a.schedule, kubernetesSchedule(span, 'sponsoring', { spread: true }).schedule, 'stable');
      assert.equal(a.exact, true);
      assertKubernetesReadable(a.schedule);
      const g = gaps(a.schedule);
      assert.deepEqual([g.largest, g.shortest], [period, period], a.schedule);
    }
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    assert.ok(
      new Set(names.map((n) => kubernetesSchedule('1h', n, { spread: true }).schedule)).size > 4,
      'different collectors, different minutes',
    );
    assert.equal(kubernetesSchedule('0 6 * * *', 'x', { spread: true }).schedule, '0 6 * * *', 'a cron expression is never moved');
  });

  test('an invalid RUN_INTERVAL is a ScheduleError naming the collector', () => {
    assert.throws(() => kubernetesSchedule('every 5 minutes', 'disk'), /collector "disk": RUN_INTERVAL "every 5 minutes" is not valid/);
  });
});

// ---------------------------------------------------------------------------------------------

interface Definitions {
  source: string;
  kubernetesVersion: string;
  definitions: Record<string, Record<string, unknown>>;
}

const DEFINITIONS = JSON.parse(
  readFileSync(join(repoRoot, 'test', 'lib', 'kubernetes', 'fixtures', 'k8s-v1.27.1-definitions.json'), 'utf8'),
) as Definitions;
const SCHEMA_OF: Record<string, string> = {
  'batch/v1 CronJob': 'io.k8s.api.batch.v1.CronJob',
  'v1 ConfigMap': 'io.k8s.api.core.v1.ConfigMap',
  'v1 PersistentVolumeClaim': 'io.k8s.api.core.v1.PersistentVolumeClaim',
};

/**
 * Ajv with the vendored definitions, strict as `kubectl apply --validate=strict`: every object
 * schema that lists its properties refuses others. Formats as Kubernetes defines them.
 */
function kubernetesValidator(): (object: Record<string, unknown>) => string[] {
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  const int = (bits: 32 | 64) => (n: number) =>
    Number.isInteger(n) && (bits === 64 ? Number.isSafeInteger(n) : n >= -(2 ** 31) && n < 2 ** 31);
  ajv.addFormat('int32', { type: 'number', validate: int(32) });
  ajv.addFormat('int64', { type: 'number', validate: int(64) });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('quantity', /^[+-]?(?:\d+|\d+\.\d*|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/);
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  const strict = (schema: unknown): unknown => {
    if (Array.isArray(schema)) return schema.map(strict);
    if (schema === null || typeof schema !== 'object') return schema;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema))
      out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, strict(s)])) : strict(v);
    if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
    return out;
  };
  for (const [id, schema] of Object.entries(DEFINITIONS.definitions)) ajv.addSchema(strict(schema) as object, id);
  return (object) => {
    const id = SCHEMA_OF[`${String(object.apiVersion)} ${String(object.kind)}`];
    if (!id) return [`no schema for ${String(object.apiVersion)} ${String(object.kind)}`];
    if (ajv.validate(id, object)) return [];
    return (ajv.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ` +
        `${e.message}${e.params && 'additionalProperty' in e.params ? `: ${String(e.params.additionalProperty)}` : ''}`,
    );
  };
}

const validate = kubernetesValidator();
const IMAGE = 'registry.example/influx-collectors:0.1.0';
const SHIPPED: CollectorInput[] = [
  { name: 'github_runner', runInterval: '5m' },
  { name: 'sponsoring', runInterval: '5m' },
  { name: 'system', runInterval: '1m' },
];

// The parts of the generated objects these tests read, typed as the Kubernetes API defines them
// (the schemas above check the whole objects).
interface Metadata {
  name: string;
  namespace?: string;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  securityContext: Record<string, unknown>;
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  envFrom: unknown[];
}
interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode: number; items: Array<{ key: string; path: string }> };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: { sizeLimit: string };
}
interface PodSpec {
  securityContext: { runAsUser?: number; runAsGroup?: number } & Record<string, unknown>;
  automountServiceAccountToken: boolean;
  enableServiceLinks: boolean;
  restartPolicy: string;
  hostname: string;
  containers: Container[];
  volumes: Volume[];
}
interface CronJob {
  kind: 'CronJob';
  metadata: Metadata;
  spec: {
    concurrencyPolicy: string;
    timeZone: string;
    startingDeadlineSeconds: number;
    successfulJobsHistoryLimit: number;
    failedJobsHistoryLimit: number;
    jobTemplate: { spec: { backoffLimit: number; activeDeadlineSeconds: number; template: { spec: PodSpec } } };
  };
}
interface ConfigMap {
  kind: 'ConfigMap';
  metadata: Metadata;
  data: Record<string, string>;
}
interface PersistentVolumeClaim {
  kind: 'PersistentVolumeClaim';
  metadata: Metadata;
  spec: { accessModes: string[]; resources: { requests: { storage: string } } };
}
interface Kustomization {
  namespace?: string;
  resources: string[];
}
type Kinds = { CronJob: CronJob; ConfigMap: ConfigMap; PersistentVolumeClaim: PersistentVolumeClaim };

function byKind<K extends keyof Kinds>(objects: ReadonlyArray<Record<string, unknown>>, kind: K): Array<Kinds[K]> {
  return objects.filter((o) => o.kind === kind) as unknown as Array<Kinds[K]>;
}

function podSpec(cronJob: CronJob): PodSpec {
  return cronJob.spec.jobTemplate.spec.template.spec;
}

/** Sets the value at a dotted path (array indexes included) of an object, or deletes it when the value is undefined. */
function setPath(object: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  let at = object;
  for (const key of keys) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

describe('manifests', () => {
  test(`the vendored schemas are Kubernetes ${DEFINITIONS.kubernetesVersion}, only the definitions these kinds need`, () => {
    assert.equal(DEFINITIONS.kubernetesVersion, 'v1.27.1');
    assert.match(DEFINITIONS.source, /kubernetes-models 4\.3\.1/);
    for (const id of Object.values(SCHEMA_OF)) assert.ok(DEFINITIONS.definitions[id], id);
    const count = Object.keys(DEFINITIONS.definitions).length;
    assert.ok(count < 150, `${count} definitions`);
  });

  const variants: Array<[string, Partial<KubernetesOptions>]> = [
    ['defaults', {}],
    [
      'shared-pvc, a storage class, a namespace, both secret keys',
      { state: 'shared-pvc', storageClass: 'nfs-client', namespace: 'monitoring', secretKeys: ['INFLUX_TOKEN', 'INFLUXDB_PASSWORD'] },
    ],
    ['emptydir, no secret, spread, a longer time limit', { state: 'emptydir', secretName: '', spread: true, timeoutSec: 1800 }],
  ];
  for (const [what, opts] of variants) {
    test(
      `every generated object validates against the Kubernetes ${DEFINITIONS.kubernetesVersion} schemas and reads back from its ` +
        `YAML (${what})`,
      () => {
        const collectors: CollectorInput[] = [
          ...SHIPPED,
          { name: 'slow_one', runInterval: '90min' },
          { name: 'weekdays', runInterval: '0 6 * * 1-7' },
        ];
        const gen = generateKubernetes(collectors, { image: IMAGE, ...opts });
        assert.deepEqual(gen.skipped, []);
        for (const m of gen.manifests) {
          const doc = readBack(m.yaml) as Record<string, unknown>;
          assert.deepEqual(doc, m.object, `${m.file} reads back as the object`);
          assert.deepEqual(validate(doc), [], `${m.file} is a valid ${m.kind}`);
        }
        const kustomization = readBack(gen.kustomization) as Kustomization;
        assert.deepEqual(
          kustomization.resources,
          gen.manifests.map((m) => m.file),
        );
        assert.equal(kustomization.namespace, opts.namespace);
        assert.equal(new Set(gen.manifests.map((m) => m.file)).size, gen.manifests.length, 'one file per object');
        const jobs = byKind(
          gen.manifests.map((m) => m.object),
          'CronJob',
        );
        assert.deepEqual(
          jobs.map((j) => j.metadata.name),
          ['metrics-github-runner', 'metrics-slow-one', 'metrics-sponsoring', 'metrics-system', 'metrics-weekdays'],
        );
      },
    );
  }

  test('the all-collectors manifests as the command writes them validate too (every shipped collector)', async () => {
    const out = join(root, 'all');
    const r = await runCli(['kubernetes', 'generate', '--out', out]);
    assert.equal(r.code, 0, show(r));
    const files = readdirSync(out).sort();
    const shipped = readdirSync(join(repoRoot, 'src', 'collectors')).filter((n) => !n.startsWith('_'));
    assert.ok(shipped.length >= 12, shipped.join(' '));
    for (const name of shipped) assert.ok(files.includes(`cronjob-metrics-${name.replace(/_/g, '-')}.yaml`), `${name}: ${files.join(' ')}`);
    for (const f of files.filter((f) => f !== 'kustomization.yaml')) {
      const doc = readBack(readFileSync(join(out, f), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(validate(doc), [], f);
    }
    const k = readBack(readFileSync(join(out, 'kustomization.yaml'), 'utf8')) as Kustomization;
    assert.deepEqual(
      [...k.resources].sort(),
      files.filter((f) => f !== 'kustomization.yaml'),
    );
  });

  test('the validation is real: broken manifests are rejected, each for its own reason', () => {
    const gen = generateKubernetes(SHIPPED, { image: IMAGE });
    const job = gen.manifests.find((m) => m.kind === 'CronJob')!.object;
    const claim = gen.manifests.find((m) => m.kind === 'PersistentVolumeClaim')!.object;
    const config = gen.manifests.find((m) => m.kind === 'ConfigMap')!.object;
    const container = 'spec.jobTemplate.spec.template.spec.containers.0';
    // [what, the object, the edits (path, value; undefined deletes), the error expected]
    const broken: Array<[string, Record<string, unknown>, Array<[string, unknown]>, RegExp]> = [
      [
        'a misspelt field',
        job,
        [
          ['spec.concurencyPolicy', (job as unknown as CronJob).spec.concurrencyPolicy],
          ['spec.concurrencyPolicy', undefined],
        ],
        /must NOT have additional properties: concurencyPolicy/,
      ],
      [
        'a value outside the enum',
        job,
        [['spec.concurrencyPolicy', 'Sometimes']],
        /\/spec\/concurrencyPolicy must be equal to one of the allowed values/,
      ],
      ['a number as a string', job, [['spec.jobTemplate.spec.activeDeadlineSeconds', '900']], /activeDeadlineSeconds must be integer/],
      ['a required field missing', job, [['spec.jobTemplate', undefined]], /\/spec must have required property 'jobTemplate'/],
      [
        'an unknown field deep in the container',
        job,
        [[`${container}.securityContext.readOnlyRootFS`, true]],
        /additional properties: readOnlyRootFS/,
      ],
      ['a container without a name', job, [[`${container}.name`, undefined]], /must have required property 'name'/],
      ['capabilities as a string', job, [[`${container}.securityContext.capabilities.drop`, 'ALL']], /drop must be array/],
      ['a wrong apiVersion', job, [['apiVersion', 'batch/v1beta1']], /no schema for batch\/v1beta1 CronJob/],
      ['an int32 out of range', job, [['spec.failedJobsHistoryLimit', 2 ** 40]], /must match format "int32"/],
      [
        'a storage size that is no quantity',
        claim,
        [['spec.resources.requests.storage', 'one gigabyte']],
        /must match format "quantity"|must be number/,
      ],
      ['a ConfigMap value that is no string', config, [['data.METRICS_TIMEOUT', 600]], /\/data\/METRICS_TIMEOUT must be string/],
    ];
    for (const [what, original, edits, expected] of broken) {
      const copy = structuredClone(original);
      for (const [path, value] of edits) setPath(copy, path, value);
      const errors = validate(copy);
      assert.ok(
        errors.some((e) => expected.test(e)),
        `${what}: expected ${expected}, got ${JSON.stringify(errors)}`,
      );
    }
    assert.deepEqual(validate(job), [], 'and the original is fine');
  });

  test(
    'the pod is hardened as the systemd unit is: ' + 'non-root, read-only root, no capabilities, no escalation, RuntimeDefault seccomp',
    () => {
      const gen = generateKubernetes(SHIPPED, { image: IMAGE });
      for (const job of byKind(
        gen.manifests.map((m) => m.object),
        'CronJob',
      )) {
        const pod = podSpec(job);
        assert.deepEqual(pod.securityContext, {
          runAsNonRoot: true,
          runAsUser: CONTAINER_UID,
          runAsGroup: CONTAINER_GID,
          fsGroup: CONTAINER_GID,
          fsGroupChangePolicy: 'OnRootMismatch',
          seccompProfile: { type: 'RuntimeDefault' },
        });
        assert.equal(pod.automountServiceAccountToken, false);
        assert.equal(pod.enableServiceLinks, false);
        assert.equal(pod.restartPolicy, 'Never');
        assert.equal(pod.hostname, job.metadata.name, 'a stable host name per collector');
        assert.equal(pod.containers.length, 1);
        const c = pod.containers[0];
        assert.deepEqual(c.securityContext, {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, m]));
        assert.ok(mounts['/tmp'], 'a writable /tmp: the root file system is read-only');
        assert.ok(mounts[STATE_MOUNT]);
        assert.equal(mounts[SECRET_MOUNT].readOnly, true);
        assert.equal(job.spec.concurrencyPolicy, 'Forbid');
        assert.equal(job.spec.timeZone, 'Etc/UTC');
        assert.equal(job.spec.jobTemplate.spec.backoffLimit, 0);
        assert.ok(job.spec.startingDeadlineSeconds >= 10);
        assert.ok(Number.isInteger(job.spec.successfulJobsHistoryLimit) && Number.isInteger(job.spec.failedJobsHistoryLimit));
      }
    },
  );

  test('secrets come from the Secret as read-only files through *_FILE, never from the environment or the ConfigMap', () => {
    const gen = generateKubernetes(SHIPPED, {
      image: IMAGE,
      secretName: 'influx-creds',
      secretKeys: ['INFLUX_TOKEN', 'INFLUXDB_PASSWORD'],
    });
    const objects = gen.manifests.map((m) => m.object);
    const config = byKind(objects, 'ConfigMap')[0]!;
    for (const key of ['INFLUX_TOKEN', 'INFLUXDB_PASSWORD']) assert.ok(!(key in config.data), `${key} is not in the ConfigMap`);
    assert.doesNotMatch(
      gen.manifests.find((m) => m.kind === 'ConfigMap')!.yaml,
      /^\s*(INFLUX_TOKEN|INFLUXDB_PASSWORD):/m,
      'not even as a line to fill in',
    );
    for (const job of byKind(objects, 'CronJob')) {
      const pod = podSpec(job);
      const c = pod.containers[0];
      const env = Object.fromEntries(c.env.map((e) => [e.name, e]));
      assert.equal(env.INFLUX_TOKEN, undefined);
      assert.equal(env.INFLUXDB_PASSWORD, undefined);
      assert.equal(env.INFLUX_TOKEN_FILE.value, `${SECRET_MOUNT}/INFLUX_TOKEN`);
      assert.equal(env.INFLUXDB_PASSWORD_FILE.value, `${SECRET_MOUNT}/INFLUXDB_PASSWORD`);
      assert.equal(env.STATE_DIRECTORY.value, STATE_MOUNT);
      assert.ok(
        c.env.every((e) => e.valueFrom === undefined),
        'no secretKeyRef into the environment',
      );
      assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'metrics-config' } }]);
      const secret = pod.volumes.find((v) => v.secret)!.secret!;
      assert.equal(secret.secretName, 'influx-creds');
      assert.equal(secret.defaultMode, 0o440);
      assert.deepEqual(secret.items, [
        { key: 'INFLUX_TOKEN', path: 'INFLUX_TOKEN' },
        { key: 'INFLUXDB_PASSWORD', path: 'INFLUXDB_PASSWORD' },
      ]);
    }
  });

  test('the time limit: activeDeadlineSeconds covers METRICS_TIMEOUT of the ConfigMap plus start-up', () => {
    for (const [timeoutSec, activeDeadlineSec, expected] of [
      [undefined, undefined, 900],
      [60, undefined, 360],
      [600, 700, 700],
      [12.5, undefined, 313],
    ] as const) {
      const gen = generateKubernetes(SHIPPED, { image: IMAGE, timeoutSec, activeDeadlineSec });
      const config = byKind(
        gen.manifests.map((m) => m.object),
        'ConfigMap',
      )[0]!;
      assert.equal(config.data.METRICS_TIMEOUT, String(timeoutSec ?? 600));
      for (const job of byKind(
        gen.manifests.map((m) => m.object),
        'CronJob',
      )) {
        assert.equal(job.spec.jobTemplate.spec.activeDeadlineSeconds, expected);
        assert.ok(expected > Number(config.data.METRICS_TIMEOUT));
      }
    }
    assert.throws(
      () => generateKubernetes(SHIPPED, { image: IMAGE, timeoutSec: 600, activeDeadlineSec: 600 }),
      /--active-deadline 600 must be a whole number of seconds greater than the collector time limit/,
    );
  });

  test('startingDeadlineSeconds is half the shortest gap between runs, at least 10 s', () => {
    const gen = generateKubernetes(
      [
        { name: 'a', runInterval: '1m' },
        { name: 'b', runInterval: '1h' },
        { name: 'c', runInterval: '0 0,1 * * *' },
        { name: 'd', runInterval: '30s' },
      ],
      { image: IMAGE },
    );
    const deadline = Object.fromEntries(
      byKind(
        gen.manifests.map((m) => m.object),
        'CronJob',
      ).map((j) => [j.metadata.name, j.spec.startingDeadlineSeconds]),
    );
    assert.deepEqual(deadline, { 'metrics-a': 30, 'metrics-b': 1800, 'metrics-c': 1800, 'metrics-d': 30 });
  });

  test('state: one claim per collector (default), one shared ReadWriteMany claim, or an emptyDir with a warning', () => {
    const objects = (opts: Partial<KubernetesOptions>) => generateKubernetes(SHIPPED, { image: IMAGE, ...opts });
    const perCollector = objects({});
    const claims = byKind(
      perCollector.manifests.map((m) => m.object),
      'PersistentVolumeClaim',
    );
    assert.deepEqual(
      claims.map((c) => [c.metadata.name, c.spec.accessModes]),
      [
        ['metrics-github-runner-state', ['ReadWriteOnce']],
        ['metrics-sponsoring-state', ['ReadWriteOnce']],
        ['metrics-system-state', ['ReadWriteOnce']],
      ],
    );
    for (const job of byKind(
      perCollector.manifests.map((m) => m.object),
      'CronJob',
    )) {
      assert.deepEqual(podSpec(job).volumes[0], { name: 'state', persistentVolumeClaim: { claimName: `${job.metadata.name}-state` } });
    }
    assert.deepEqual(perCollector.warnings, []);
    const shared = objects({ state: 'shared-pvc', storageSize: '5Gi' });
    const sharedClaims = byKind(
      shared.manifests.map((m) => m.object),
      'PersistentVolumeClaim',
    );
    assert.deepEqual(
      sharedClaims.map((c) => [c.metadata.name, c.spec.accessModes, c.spec.resources.requests.storage]),
      [['metrics-state', ['ReadWriteMany'], '5Gi']],
    );
    for (const job of byKind(
      shared.manifests.map((m) => m.object),
      'CronJob',
    ))
      assert.equal(podSpec(job).volumes[0]!.persistentVolumeClaim!.claimName, 'metrics-state');
    const empty = objects({ state: 'emptydir' });
    assert.equal(
      byKind(
        empty.manifests.map((m) => m.object),
        'PersistentVolumeClaim',
      ).length,
      0,
    );
    for (const job of byKind(
      empty.manifests.map((m) => m.object),
      'CronJob',
    ))
      assert.deepEqual(podSpec(job).volumes[0], { name: 'state', emptyDir: { sizeLimit: '1Gi' } });
    assert.ok(
      empty.warnings.some((w) => /emptydir: the outbox and the locks live in the pod and end with it: .* LOST when its pod ends/.test(w)),
      empty.warnings.join('\n'),
    );
  });

  test('an inexact schedule: a warning and a comment in the CronJob with the largest gap', () => {
    const gen = generateKubernetes([{ name: 'slow', runInterval: '90min' }], { image: IMAGE });
    assert.equal(gen.warnings.length, 1);
    assert.match(
      gen.warnings[0]!,
      new RegExp(
        /^collector "slow": RUN_INTERVAL '90min' \(1h 30min\) has no exact cron equivalent .* the /.source +
          /largest gap is 1h against the 1h 30min asked/.source,
      ),
    );
    const yaml = gen.manifests.find((m) => m.kind === 'CronJob')!.yaml;
    assert.match(
      yaml,
      new RegExp(
        /\n {2}# NOT EXACT: RUN_INTERVAL '90min' .*the largest gap is 1h against the 1h 30min /.source +
          /asked\.\n(.*\n)* {2}schedule: "0 \* \* \* \*" {2}# every hour\n/.source,
      ),
    );
    assert.match(yaml, /counts from the end of the previous run under systemd; here runs start on the clock/);
  });

  test('names: <prefix>-<collector> in lower case with "-"; clashes and names Kubernetes refuses are skipped with the reason', () => {
    assert.equal(kubernetesName('metrics', 'github_runner'), 'metrics-github-runner');
    const gen = generateKubernetes(
      [
        { name: 'My_Col', runInterval: '5m' },
        { name: 'my-col', runInterval: '5m' },
        { name: 'x'.repeat(50), runInterval: '5m' },
        { name: 'trailing_', runInterval: '5m' },
        { name: 'bad', runInterval: 'sometimes' },
        { name: 'broken', runInterval: '5m', error: 'collector "broken" failed to load' },
        { name: 'fine', runInterval: '5m' },
      ],
      { image: IMAGE },
    );
    const skipped = Object.fromEntries(gen.skipped.map((s) => [s.name, s.error]));
    assert.match(skipped['my-col'] ?? skipped.My_Col ?? '', /both make the Kubernetes name "metrics-my-col": rename one of the folders/);
    assert.match(skipped['x'.repeat(50)]!, /at most 52 characters.*shorter --prefix/);
    assert.match(skipped.trailing_!, /not a valid CronJob name/);
    assert.match(skipped.bad!, /collector "bad": RUN_INTERVAL "sometimes" is not valid/);
    assert.equal(skipped.broken, 'collector "broken" failed to load');
    assert.deepEqual(
      byKind(
        gen.manifests.map((m) => m.object),
        'CronJob',
      )
        .map((j) => j.metadata.name)
        .sort(),
      ['metrics-fine', 'metrics-my-col'],
    );
  });

  test('invalid options are usage errors naming the option', () => {
    const cases: Array<[Partial<KubernetesOptions>, RegExp]> = [
      [{ prefix: 'Metrics' }, /--prefix "Metrics" is not valid/],
      [{ image: 'has space' }, /--image "has space" is not an image reference/],
      [{ namespace: 'Bad_NS' }, /--namespace "Bad_NS"/],
      [{ storageSize: 'lots' }, /--storage-size "lots" is not a Kubernetes quantity/],
      [{ storageClass: 'UPPER' }, /--storage-class "UPPER"/],
      [{ secretName: 'a b' }, /--secret "a b" is not a valid Secret name/],
      [{ secretKeys: ['PASSWORD' as never] }, /--secret-key "PASSWORD" is not one of INFLUX_TOKEN, INFLUXDB_PASSWORD/],
      [{ timeoutSec: 0 }, /--timeout 0 must be a number of seconds greater than 0/],
      [{ outboxMaxSize: '1 GB' }, /--outbox-max-size "1 GB"/],
    ];
    for (const [opts, expected] of cases) {
      assert.throws(
        () => generateKubernetes(SHIPPED, { image: IMAGE, ...opts }),
        (e: Error) => e.name === 'UsageError' && expected.test(e.message),
        String(expected),
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('Containerfile', () => {
  const text = readFileSync(join(repoRoot, 'Containerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  const finalStage = lines.slice(
    lines
      .map((l, i) => (/^FROM\s/i.test(l) ? i : -1))
      .filter((i) => i >= 0)
      .pop(),
  );
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };

  test('the official Node image, major version of package.json engines, both stages', () => {
    const froms = lines.filter((l) => /^FROM\s/i.test(l));
    assert.equal(froms.length, 2);
    for (const f of froms) assert.match(f, /^FROM docker\.io\/library\/node:20-bookworm-slim( AS build)?$/);
  });

  test('runs as the user the manifests name (numeric, non-root), with node bin/metrics as the entry point', () => {
    const user = finalStage.filter((l) => /^USER\s/i.test(l)).pop();
    assert.equal(user, `USER ${CONTAINER_UID}:${CONTAINER_GID}`);
    assert.ok(Number(CONTAINER_UID) > 0 && Number(CONTAINER_GID) > 0, 'not root');
    const entry = finalStage.find((l) => /^ENTRYPOINT\s/i.test(l))!;
    assert.deepEqual(JSON.parse(entry.replace(/^ENTRYPOINT\s+/i, '')), ['node', '/app/bin/metrics']);
    assert.ok(finalStage.includes('WORKDIR /app'));
    const gen = generateKubernetes(SHIPPED, { image: defaultImage(pkg) });
    for (const job of byKind(
      gen.manifests.map((m) => m.object),
      'CronJob',
    )) {
      const pod = podSpec(job);
      assert.equal(pod.securityContext.runAsUser, CONTAINER_UID);
      assert.equal(pod.securityContext.runAsGroup, CONTAINER_GID);
      assert.equal(pod.containers[0].image, `${pkg.name}:${pkg.version}`, 'the default image is the one the README builds');
      assert.equal(pod.containers[0].command, undefined, "the image's entry point runs");
      assert.equal(pod.containers[0].args[0], 'run');
    }
  });

  test('compiles in the build stage and copies only what exists: package files, bin/, src/ → dist/src', () => {
    assert.ok(lines.includes('RUN npm ci --ignore-scripts --no-audit --no-fund'));
    // the build stage writes the collectors' manifest after tsc (list and the generators read it)
    const build = /^RUN npx tsc -p tsconfig\.json && node dist\/src\/lib\/run\/write-manifest\.js && npm prune --omit=dev/;
    assert.ok(lines.some((l) => build.test(l)));
    for (const l of lines.filter((l) => /^COPY\s/.test(l) && !l.includes('--from'))) {
      for (const src of l.split(/\s+/).slice(1, -1))
        assert.ok(existsSync(join(repoRoot, src)), `${src} (copied by the Containerfile) exists`);
    }
    assert.ok(finalStage.includes('COPY --from=build /app/dist/src ./dist/src'));
    assert.ok(finalStage.includes('ENV NODE_ENV=production'));
  });
});

// ---------------------------------------------------------------------------------------------

describe('metrics kubernetes generate (the command)', () => {
  /** A compiled collectors directory with these RUN_INTERVALs. */
  function collectorsDir(intervals: Record<string, string>): string {
    const dir = mkdtempSync(join(root, 'collectors-'));
    for (const [name, interval] of Object.entries(intervals)) {
      mkdirSync(join(dir, name));
      writeFileSync(
        join(dir, name, 'index.js'),
        `export const RUN_INTERVAL = ${JSON.stringify(interval)};\nexport async function runMetric() { return { ok: true, points: 0 }; }\n`,
      );
    }
    return dir;
  }

  test('--help shows the options and examples', async () => {
    const r = await runCli(['kubernetes', 'generate', '--help']);
    assert.equal(r.code, 0, show(r));
    for (const s of [
      '--out',
      '--image',
      '--state',
      '--secret',
      '--secret-key',
      '--timeout',
      '--active-deadline',
      '--spread',
      'Examples:',
      'kubectl apply -k k8s/',
      'kubectl create secret generic metrics-influx',
      'nearest regular cron',
    ]) {
      assert.ok(r.stdout.includes(s), `${s}\n${show(r)}`);
    }
  });

  test('without --out: one YAML stream of the objects on stdout, warnings on stderr, exit 0', async () => {
    const dir = collectorsDir({ every_7m: '7m', hourly: '1h' });
    const r = await runCli(['kubernetes', 'generate', '--image', IMAGE], { env: { METRICS_COLLECTORS_DIR: dir } });
    assert.equal(r.code, 0, show(r));
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>);
    assert.deepEqual(
      docs.map((d) => `${d.kind}/${(d.metadata as Metadata).name}`),
      [
        'ConfigMap/metrics-config',
        'PersistentVolumeClaim/metrics-every-7m-state',
        'PersistentVolumeClaim/metrics-hourly-state',
        'CronJob/metrics-every-7m',
        'CronJob/metrics-hourly',
      ],
    );
    for (const d of docs) assert.deepEqual(validate(d), []);
    assert.match(
      r.stderr,
      new RegExp(
        /^warning: collector "every_7m": RUN_INTERVAL '7m' \(7min\) has no exact cron equivalent .*every /.source +
          /6 minutes.* the largest gap is 6min against the 7min asked/.source,
        'm',
      ),
    );
    assert.doesNotMatch(r.stderr, /hourly/);
  });

  test('--out DIR writes the files atomically (a planted link is replaced, not followed) and lists them', async () => {
    const out = join(root, 'out-links');
    mkdirSync(out);
    const target = join(root, 'outside.txt');
    writeFileSync(target, 'untouched\n');
    symlinkSync(target, join(out, 'configmap.yaml'));
    const dir = collectorsDir({ one: '5m' });
    const r = await runCli(['kubernetes', 'generate', '--out', out, '--namespace', 'monitoring', '--state', 'emptydir'], {
      env: { METRICS_COLLECTORS_DIR: dir },
    });
    assert.equal(r.code, 0, show(r));
    assert.equal(readFileSync(target, 'utf8'), 'untouched\n');
    assert.deepEqual(readdirSync(out).sort(), ['configmap.yaml', 'cronjob-metrics-one.yaml', 'kustomization.yaml']);
    assert.deepEqual(
      r.stdout.trim().split('\n'),
      ['configmap.yaml', 'cronjob-metrics-one.yaml', 'kustomization.yaml'].map((f) => join(out, f)),
    );
    assert.match(r.stderr, /warning: --state emptydir: .* LOST/);
    assert.equal((readBack(readFileSync(join(out, 'kustomization.yaml'), 'utf8')) as Kustomization).namespace, 'monitoring');
  });

  test(
    'errors: an unknown collector and a bad option exit 2 naming them; ' + 'a broken collector exits 1 and the others are written',
    async () => {
      const dir = collectorsDir({ good: '5m', bad: 'whenever' });
      const unknown = await runCli(['kubernetes', 'generate', 'nope'], { env: { METRICS_COLLECTORS_DIR: dir } });
      assert.equal(unknown.code, 2, show(unknown));
      assert.match(unknown.stderr, /unknown collector: nope; known collectors: bad, good/);
      const option = await runCli(['kubernetes', 'generate', '--storage-size', 'huge'], { env: { METRICS_COLLECTORS_DIR: dir } });
      assert.equal(option.code, 2, show(option));
      assert.match(option.stderr, /--storage-size "huge" is not a Kubernetes quantity such as 1Gi/);
      const choice = await runCli(['kubernetes', 'generate', '--state', 'disk'], { env: { METRICS_COLLECTORS_DIR: dir } });
      assert.equal(choice.code, 2, show(choice));
      const broken = await runCli(['kubernetes', 'generate'], { env: { METRICS_COLLECTORS_DIR: dir } });
      assert.equal(broken.code, 1, show(broken));
      assert.match(broken.stderr, /error: no CronJob for bad: collector "bad": RUN_INTERVAL "whenever" is not valid/);
      assert.match(broken.stdout, /name: metrics-good\n/);
    },
  );
});
