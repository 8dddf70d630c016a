/**
 * Events: the naming rule, validation, the JSON line, events as points, the CLI's coercion, the
 * sink configuration, and the metrics log under concurrent writers.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { CollectorError, ConfigError } from '../../../src/lib/platform/errors.js';
import { eventDataFromPairs } from '../../../src/lib/events/coerce.js';
import { describeEvent } from '../../../src/lib/events/describe.js';
import { Event, EventValidationError, IssueMetricEventError, defineEvent, snakeCaseName } from '../../../src/lib/events/event.js';
import { appendToMetricsLog } from '../../../src/lib/events/metrics-log.js';
import { findEvent, listEvents, parseEvent, registerEvent } from '../../../src/lib/events/registry.js';
import { createEventSinks } from '../../../src/lib/events/sinks.js';
import { loadSettings } from '../../../src/lib/platform/settings.js';
import { eventToPoint } from '../../../src/lib/events/to-point.js';
import { Serializer } from '../../../src/lib/points/line-protocol.js';
import { Integer } from '../../../src/lib/points/point.js';
import { Reconciliation, RunnerInstalled, RunnerStart, RunnerStop } from '../../../src/collectors/github_runner/events.js';

// [class name, the reference's re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()] (checked with python3)
const NAMES: [string, string][] = [
  ['RunnerInstalled', 'runner_installed'],
  ['RunnerStart', 'runner_start'],
  ['RunnerStop', 'runner_stop'],
  ['Reconciliation', 'reconciliation'],
  ['HTTPError', 'h_t_t_p_error'],
  ['ABC', 'a_b_c'],
  ['A', 'a'],
  ['a', 'a'],
  ['aB', 'a_b'],
  ['already_snake', 'already_snake'],
  ['X_Y', 'x__y'],
  ['_Private', '__private'],
  ['Runner2Start', 'runner2_start'],
  ['IOErrorV2', 'i_o_error_v2'],
  ['ÄBc', 'ä_bc'],
];

const nameClass = (name: string) => ({ [name]: class extends defineEvent({ n: z.number().optional() }) {} })[name]!;

describe('event names', () => {
  test('the class name in snake case, exactly as the reference', () => {
    for (const [cls, expected] of NAMES) {
      assert.equal(snakeCaseName(cls), expected, cls);
      const C = nameClass(cls);
      assert.equal(C.name, cls);
      assert.equal(new C({}).event, expected, `new ${cls}().event`);
    }
  });

  test('agrees with python3 where it is installed', (t) => {
    let out: string;
    try {
      const script = 'import re,sys,json\nprint(json.dumps([re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower() for n in json.loads(sys.argv[1])]))';
      out = execFileSync('python3', ['-c', script, JSON.stringify(NAMES.map((n) => n[0]))], { encoding: 'utf8' });
    } catch {
      t.skip('python3 not available');
      return;
    }
    assert.deepEqual(
      JSON.parse(out),
      NAMES.map((n) => snakeCaseName(n[0])),
    );
  });

  test('an explicit event name wins; a static eventName renames the class', () => {
    assert.equal(new RunnerInstalled({ flavor: 's', duration: 1, event: 'custom' }).event, 'custom');
    class Renamed extends defineEvent({ a: z.string() }) {
      static override readonly eventName = 'my_name';
    }
    assert.equal(new Renamed({ a: 'x' }).event, 'my_name');
    class Child extends Renamed {}
    assert.equal(new Child({ a: 'x' }).event, 'child', 'eventName applies to its own class only');
  });

  test('the runner catalog names', () => {
    assert.equal(new RunnerInstalled({ flavor: 's', duration: 1 }).event, 'runner_installed');
    assert.equal(findEvent('runner_installed'), RunnerInstalled);
    assert.equal(findEvent('RunnerStop'), RunnerStop);
    assert.equal(findEvent('reconciliation'), Reconciliation);
    assert.equal(findEvent('nope'), undefined);
    const names = listEvents().map((e) => e.name);
    for (const n of ['runner_installed', 'runner_start', 'runner_stop', 'reconciliation']) assert.ok(names.includes(n), n);
  });
});

describe('validation', () => {
  const stop = {
    flavor: 'small',
    workflow: 'ci',
    repo: 'o/r',
    github_event: 'push',
    status: 'normal',
    job_duration: 30.5,
  };

  const invalid = (fn: () => unknown, ...expected: (string | RegExp)[]): EventValidationError => {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof EventValidationError, `expected an EventValidationError, got ${String(caught)}`);
    assert.ok(caught instanceof CollectorError);
    for (const x of expected)
      assert.match(caught.message, typeof x === 'string' ? new RegExp(x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : x);
    return caught;
  };

  test('a missing required field names the class and the field', () => {
    const e = invalid(() => new RunnerInstalled({ duration: 1 } as never), 'RunnerInstalled', 'field "flavor" is required');
    assert.deepEqual(e.issues, [{ path: 'flavor', problem: 'is required but missing' }]);
    assert.equal(e.eventClass, 'RunnerInstalled');
  });

  test('negative durations, non-integer and negative counts', () => {
    invalid(() => new RunnerInstalled({ flavor: 's', duration: -1 }), 'field "duration" must be >= 0, got -1');
    invalid(() => new RunnerStart({ ...stop, idle: -0.5 }), 'RunnerStart', 'field "idle" must be >= 0');
    invalid(() => new RunnerStart({ ...stop, idle: 1, queue_duration: -2 }), 'field "queue_duration" must be >= 0');
    invalid(
      () =>
        new Reconciliation({ flavor: 's', crashed_runners: 1.5, idle_runners: -1, active_runners: 0, expected_runners: 2, duration: 1 }),
      'Reconciliation',
      'field "crashed_runners" must be an integer, got 1.5',
      'field "idle_runners" must be >= 0, got -1',
    );
  });

  test('wrong types, NaN and Infinity', () => {
    invalid(() => new RunnerInstalled({ flavor: 's', duration: '12' as never }), 'field "duration" must be a number, got the string "12"');
    invalid(() => new RunnerInstalled({ flavor: 's', duration: Number.NaN }), 'field "duration"');
    invalid(() => new RunnerInstalled({ flavor: 's', duration: Infinity }), 'field "duration"');
    invalid(() => new RunnerInstalled({ flavor: 3 as never, duration: 1 }), 'field "flavor" must be a string, got 3');
  });

  test('nested objects: path of the nested field, unknown nested keys', () => {
    invalid(() => new RunnerStop({ ...stop, status_info: { code: 1.5 } }), 'RunnerStop', 'field "status_info.code" must be an integer');
    invalid(() => new RunnerStop({ ...stop, status_info: {} as never }), 'field "status_info.code" is required');
    invalid(() => new RunnerStop({ ...stop, status_info: { code: 1, extra: 2 } as never }), 'field "status_info.extra" is not a field');
    invalid(() => new RunnerStop({ ...stop, status_info: 5 as never }), 'field "status_info" must be an object');
  });

  test('unknown fields and a bad timestamp are errors', () => {
    invalid(
      () => new RunnerInstalled({ flavor: 's', duration: 1, flavour: 'x' } as never),
      'field "flavour" is not a field of RunnerInstalled',
      'flavor, duration',
    );
    invalid(() => new RunnerInstalled({ flavor: 's', duration: 1, timestamp: -1 }), 'field "timestamp" must be >= 0');
    invalid(() => new RunnerInstalled({ flavor: 's', duration: 1, event: '' }), 'field "event" must not be empty');
    invalid(() => new RunnerInstalled(null as never), 'must be an object');
  });

  test('defineEvent refuses reserved names and a class without fields', () => {
    assert.throws(() => defineEvent({ timestamp: z.number() }), /reserved/);
    assert.throws(() => defineEvent({ a: 3 as never }), /not a zod schema/);
    class Bare extends Event {}
    assert.throws(() => new (Bare as never as new (d: object) => Event)({}), /defineEvent/);
  });

  test('valid events keep their values', () => {
    const before = Date.now() / 1000;
    const e = new RunnerStop({ ...stop, status_info: { code: 3 }, job_conclusion: 'success' });
    assert.ok(e.timestamp >= before - 0.001 && e.timestamp <= Date.now() / 1000 + 0.001);
    assert.equal(e.flavor, 'small');
    assert.equal(e.status_info?.code, 3);
    assert.equal(new RunnerInstalled({ flavor: 's', duration: 0, timestamp: 0 }).timestamp, 0);
  });
});

describe('JSON', () => {
  test('one line: timestamp, event, then the fields in schema order; absent optionals left out', () => {
    const e = new RunnerStop({
      timestamp: 1700000000.25,
      flavor: 'small',
      workflow: 'ci',
      repo: 'o/r',
      github_event: 'push',
      status: 'normal',
      job_duration: 30.5,
    });
    assert.equal(
      e.toLine(),
      '{"timestamp":1700000000.25,"event":"runner_stop","flavor":"small","workflow":"ci","repo":"o/r",' +
        '"github_event":"push","status":"normal","job_duration":30.5}',
    );
    assert.equal(JSON.stringify(e), e.toLine());
    assert.ok(!e.toLine().includes('\n'));
    const full = new RunnerStop({ ...JSON.parse(e.toLine()), status_info: { code: 1 }, job_conclusion: 'failure', job_duration: 2 });
    assert.deepEqual(Object.keys(full.toJSON()), [
      'timestamp',
      'event',
      'flavor',
      'workflow',
      'repo',
      'github_event',
      'status',
      'status_info',
      'job_duration',
      'job_conclusion',
    ]);
    assert.deepEqual(full.toJSON().status_info, { code: 1 });
  });

  test('explicit undefined is left out too', () => {
    const e = new RunnerStart({
      flavor: 's',
      workflow: 'w',
      repo: 'r',
      github_event: 'push',
      idle: 1,
      queue_duration: undefined,
      timestamp: 5,
    });
    assert.equal(
      e.toLine(),
      '{"timestamp":5,"event":"runner_start","flavor":"s","workflow":"w","repo":"r","github_event":"push","idle":1}',
    );
  });

  test('parseEvent builds the registered class back from a line', () => {
    const e = new RunnerInstalled({ flavor: 'small', duration: 12.5 });
    const back = parseEvent(JSON.parse(e.toLine()));
    assert.ok(back instanceof RunnerInstalled);
    assert.deepEqual(back.toJSON(), e.toJSON());
    assert.throws(() => parseEvent({ event: 'nope' }), /unknown event "nope"/);
    assert.throws(() => parseEvent({ flavor: 'x' }), /"event"/);
    assert.throws(() => parseEvent({ event: 'runner_installed', flavor: 'x', duration: -3 }), /duration/);
  });
});

describe('events as points', () => {
  test('measurement, string tags, float and integer fields, flattened objects, time', () => {
    const e = new RunnerStop({
      timestamp: 1700000000.123456,
      flavor: 'small',
      workflow: 'ci',
      repo: 'o/r',
      github_event: 'push',
      status: 'normal',
      status_info: { code: 3 },
      job_duration: 30,
      job_conclusion: 'success',
    });
    const p = eventToPoint(e);
    assert.equal(p.measurement, 'runner_stop');
    assert.deepEqual(p.tags, {
      flavor: 'small',
      workflow: 'ci',
      repo: 'o/r',
      github_event: 'push',
      status: 'normal',
      job_conclusion: 'success',
    });
    assert.ok(p.fields.status_info_code instanceof Integer);
    assert.equal(p.fields.job_duration, 30);
    assert.equal(p.time, 1700000000123456000n);
    const line = new Serializer('test', '0').serialize(p);
    assert.equal(
      line,
      'runner_stop,flavor=small,github_event=push,job_conclusion=success,repo=o/r,status=normal,workflow=ci ' +
        'status_info_code=3i,job_duration=30 1700000000123456000',
    );
    assert.deepEqual(e.toPoint(), p);
  });

  test('integer counts are integers; absent optionals and empty strings are left out', () => {
    const r = eventToPoint(
      new Reconciliation({
        timestamp: 1700000000,
        flavor: '',
        crashed_runners: 0,
        idle_runners: 2,
        active_runners: 3,
        expected_runners: 5,
        duration: 1.5,
      }),
    );
    assert.deepEqual(r.tags, {});
    assert.equal(
      new Serializer('t', '0').serialize(r),
      'reconciliation crashed_runners=0i,idle_runners=2i,active_runners=3i,expected_runners=5i,duration=1.5 1700000000000000000',
    );
    const s = eventToPoint(
      new RunnerStart({ timestamp: 1700000000, flavor: 'f', workflow: 'w', repo: 'r', github_event: 'push', idle: 2 }),
    );
    assert.deepEqual(Object.keys(s.fields), ['idle']);
  });

  test('tagFields chooses the tags; other strings become string fields', () => {
    class Failure extends defineEvent({
      flavor: z.string(),
      message: z.string(),
      ok: z.boolean(),
      info: z.strictObject({ kind: z.string() }),
    }) {
      static override readonly tagFields = ['flavor', 'info_kind'];
    }
    const p = eventToPoint(
      new Failure({ flavor: 'f', message: 'disk full at /var', ok: false, info: { kind: 'k' }, timestamp: 1700000000 }),
    );
    assert.deepEqual(p.tags, { flavor: 'f', info_kind: 'k' });
    assert.deepEqual(p.fields, { message: 'disk full at /var', ok: false });
    assert.deepEqual(describeEvent(Failure).tags, ['flavor', 'info_kind']);
    class Bad extends defineEvent({ n: z.number() }) {
      static override readonly tagFields = ['n'];
    }
    assert.throws(() => eventToPoint(new Bad({ n: 1 })), /Bad\.tagFields names "n", which is not a string field/);
  });

  test('an event of strings only gets count=1i', () => {
    class OnlyStrings extends defineEvent({ who: z.string() }) {}
    const p = eventToPoint(new OnlyStrings({ who: 'me', timestamp: 1700000000 }));
    assert.deepEqual(p.tags, { who: 'me' });
    assert.ok(p.fields.count instanceof Integer && p.fields.count.value === 1);
  });
});

describe('describeEvent and key=value input', () => {
  test('fields with types, optionality and constraints', () => {
    const d = describeEvent(RunnerStop);
    const f = Object.fromEntries(d.fields.map((x) => [x.path, x]));
    assert.equal(d.name, 'runner_stop');
    assert.equal(f.timestamp!.optional, true);
    assert.equal(f.flavor!.type, 'string');
    assert.equal(f.flavor!.optional, false);
    assert.equal(f.status_info!.type, 'object');
    assert.equal(f.status_info!.optional, true);
    assert.equal(f['status_info.code']!.type, 'integer');
    assert.deepEqual(f.job_duration!.constraints, ['>= 0']);
    assert.equal(f.job_conclusion!.optional, true);
    const rec = Object.fromEntries(describeEvent(Reconciliation).fields.map((x) => [x.path, x]));
    assert.equal(rec.crashed_runners!.type, 'integer');
    assert.deepEqual(rec.crashed_runners!.constraints, ['>= 0']);
  });

  test('values are coerced by the schema', () => {
    assert.deepEqual(eventDataFromPairs(RunnerStop, ['flavor=12', 'job_duration=1.5e1', 'status_info.code=-3', 'status=a=b']), {
      flavor: '12',
      job_duration: 15,
      status_info: { code: -3 },
      status: 'a=b',
    });
    assert.deepEqual(eventDataFromPairs(RunnerStop, ['status_info={"code":4}']), { status_info: { code: 4 } });
    class Flags extends defineEvent({ on: z.boolean(), n: z.int() }) {}
    assert.deepEqual(eventDataFromPairs(Flags, ['on=yes', 'n=7']), { on: true, n: 7 });
    assert.deepEqual(eventDataFromPairs(Flags, ['on=maybe', 'n=x']), { on: 'maybe', n: 'x' });
    assert.throws(
      () => new Flags(eventDataFromPairs(Flags, ['on=maybe', 'n=x']) as never),
      /field "on" must be a boolean.*field "n" must be an integer/,
    );
    assert.throws(() => eventDataFromPairs(RunnerStop, ['flavor']), /not key=value/);
    assert.throws(() => eventDataFromPairs(RunnerStop, ['flavor=a', 'flavor=b']), /field "flavor" is given twice/);
    assert.throws(() => eventDataFromPairs(RunnerStop, ['status_info=1', 'status_info.code=2']), /given as a value and as an object/);
    assert.throws(() => eventDataFromPairs(RunnerStop, ['a b=1']), /not a field name/);
  });

  test('registerEvent refuses a second class under a taken name', () => {
    class RunnerInstalledCopy extends defineEvent({ a: z.string() }) {
      static override readonly eventName = 'runner_installed';
    }
    assert.throws(() => registerEvent(RunnerInstalledCopy), /already taken by class RunnerInstalled/);
    assert.equal(registerEvent(RunnerInstalled), RunnerInstalled, 'registering the same class again is fine');
  });
});

describe('sink configuration', () => {
  // the settings loader parses the sinks (platform/settings.ts)
  const configuredSinks = (env: Record<string, string>) => loadSettings(env).events.sinks;

  test('defaults: log with METRICS_LOG_PATH, promtail with PROMTAIL_PUSH_API_URL, never influx', () => {
    assert.deepEqual(configuredSinks({}), []);
    assert.deepEqual(configuredSinks({ METRICS_LOG_PATH: '/x', INFLUXDB_HOSTNAME: 'h' }), ['log']);
    assert.deepEqual(configuredSinks({ METRICS_LOG_PATH: '/x', PROMTAIL_PUSH_API_URL: 'http://h/p' }), ['log', 'promtail']);
  });

  test('METRICS_EVENT_SINKS lists them, checked', () => {
    const env = { METRICS_LOG_PATH: '/x', PROMTAIL_PUSH_API_URL: 'http://h/p' };
    assert.deepEqual(configuredSinks({ ...env, METRICS_EVENT_SINKS: ' Influx, log ' }), ['log', 'influx']);
    assert.deepEqual(configuredSinks({ ...env, METRICS_EVENT_SINKS: 'none' }), []);
    assert.throws(
      () => configuredSinks({ METRICS_EVENT_SINKS: 'log' }),
      (e: Error) => e instanceof ConfigError && /METRICS_LOG_PATH/.test(e.message),
    );
    assert.throws(() => configuredSinks({ METRICS_EVENT_SINKS: 'promtail' }), /PROMTAIL_PUSH_API_URL/);
    assert.throws(() => configuredSinks({ METRICS_EVENT_SINKS: 'loki' }), /unknown sink "loki"/);
    assert.throws(() => configuredSinks({ METRICS_EVENT_SINKS: 'none,log', ...env }), /"none" cannot be combined/);
    assert.throws(() => configuredSinks({ PROMTAIL_PUSH_API_URL: 'ftp://x' }), /not an http\(s\) URL/);
  });

  test('no sink: a configuration error, unless the caller writes the points itself', async () => {
    const e = new RunnerInstalled({ flavor: 's', duration: 1 });
    await assert.rejects(
      createEventSinks({ settings: loadSettings({}) }).issue(e),
      (err: Error) => err instanceof ConfigError && /METRICS_LOG_PATH/.test(err.message),
    );
    assert.deepEqual(await createEventSinks({ settings: loadSettings({}) }).issue(e, { pointsHandled: true }), { sinks: [] });
    const sinks = createEventSinks({ settings: loadSettings({ METRICS_EVENT_SINKS: 'influx' }) });
    assert.deepEqual(sinks.names({ pointsHandled: true }), []);
    assert.deepEqual(await sinks.issue(e, { pointsHandled: true }), { sinks: [] });
  });
});

describe('the metrics log', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'events-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("creates the file (0640) and appends one line per event; the path is the settings'", async () => {
    const path = join(dir, 'a.log');
    const sinks = createEventSinks({ settings: loadSettings({ METRICS_LOG_PATH: path }) });
    const a = new RunnerInstalled({ flavor: 'small', duration: 12.5, timestamp: 1 });
    const b = new RunnerInstalled({ flavor: 'large', duration: 1, timestamp: 2 });
    assert.deepEqual(await sinks.issue(a), { sinks: ['log'] });
    await sinks.issue([b]);
    assert.equal(await readFile(path, 'utf8'), `${a.toLine()}\n${b.toLine()}\n`);
    const mode = (await stat(path)).mode & 0o777;
    assert.equal(mode & ~0o640, 0, `mode ${mode.toString(8)} is at most 0640`);
    // the environment is read once, into the settings (platform/settings.ts): other settings, another log
    const other = join(dir, 'b.log');
    await createEventSinks({ settings: loadSettings({ METRICS_LOG_PATH: other }) }).issue(a);
    assert.equal(await readFile(other, 'utf8'), `${a.toLine()}\n`);
  });

  test('a log that cannot be written: IssueMetricEventError naming the path', async () => {
    const path = join(dir, 'missing-dir', 'm.log');
    await assert.rejects(
      appendToMetricsLog([new RunnerInstalled({ flavor: 's', duration: 1 })], path),
      (e: Error) => e instanceof IssueMetricEventError && e.message.includes(path) && /ENOENT/.test(e.message) && e.sink === 'log',
    );
    await writeFile(join(dir, 'file'), '');
    await assert.rejects(
      createEventSinks({ settings: loadSettings({ METRICS_LOG_PATH: join(dir, 'file', 'x.log') }) }).issue(
        new RunnerInstalled({ flavor: 's', duration: 1 }),
      ),
      (e: Error) => e instanceof IssueMetricEventError && e.message.includes(join(dir, 'file', 'x.log')),
    );
  });

  test('8 processes x 500 events at once: every line whole, valid JSON, none lost', async () => {
    const path = join(dir, 'concurrent.log');
    const sinksUrl = new URL('../../../src/lib/events/sinks.js', import.meta.url).href;
    const settingsUrl = new URL('../../../src/lib/platform/settings.js', import.meta.url).href;
    const catalogUrl = new URL('../../../src/collectors/github_runner/events.js', import.meta.url).href;
    const worker = join(dir, 'worker.mjs');
    // big lines (~6 KB, above PIPE_BUF and a page) make torn or interleaved writes visible
    await writeFile(
      worker,
      `import { issueEvent } from ${JSON.stringify(sinksUrl)};
import { loadSettings } from ${JSON.stringify(settingsUrl)};
import { RunnerStart } from ${JSON.stringify(catalogUrl)};
const id = process.argv[2];
const pad = String(id).repeat(6000);
for (let i = 0; i < 500; i++) {
  await issueEvent(new RunnerStart({ flavor: 'w' + id, workflow: pad, repo: 'r' + i, github_event: 'push', idle: i }), {
    settings: loadSettings(process.env),
  });
}
`,
    );
    const runs = Array.from({ length: 8 }, (_, id) => {
      const child = spawn(process.execPath, [worker, String(id)], {
        env: { ...process.env, METRICS_LOG_PATH: path, METRICS_EVENT_SINKS: '' },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      return new Promise<void>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${id} exited with ${code}`))));
      });
    });
    await Promise.all(runs);
    const text = await readFile(path, 'utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.equal(lines.length, 8 * 500);
    const seen = new Set<string>();
    for (const line of lines) {
      const obj = JSON.parse(line) as { flavor: string; workflow: string; idle: number; repo: string; event: string };
      const id = obj.flavor.slice(1);
      assert.equal(obj.event, 'runner_start');
      assert.equal(obj.workflow, id.repeat(6000), 'a line mixes writers');
      assert.equal(obj.repo, `r${obj.idle}`);
      seen.add(`${id}/${obj.idle}`);
    }
    assert.equal(seen.size, 8 * 500, 'every event exactly once');
  });
});
