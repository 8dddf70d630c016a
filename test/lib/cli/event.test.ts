/**
 * `bin/metrics event`: issuing events from a shell script, and `--list`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../helpers/servers.js';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

describe('metrics event', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'event-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('runner_installed flavor=small duration=12.5 appends one valid JSON line with a timestamp', async () => {
    const log = join(dir, 'ok.log');
    const before = Date.now() / 1000;
    const r = await runCli(['event', 'runner_installed', 'flavor=small', 'duration=12.5'], { env: { METRICS_LOG_PATH: log } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const text = await readFile(log, 'utf8');
    const lines = text.split('\n');
    assert.equal(lines.length, 2, 'one line and the final newline');
    assert.equal(lines[1], '');
    const e = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(e), ['timestamp', 'event', 'flavor', 'duration']);
    assert.equal(e.event, 'runner_installed');
    assert.equal(e.flavor, 'small');
    assert.equal(e.duration, 12.5);
    assert.equal(typeof e.timestamp, 'number');
    assert.ok((e.timestamp as number) >= before - 1 && (e.timestamp as number) <= Date.now() / 1000 + 1);

    const again = await runCli(['event', 'runner_installed', 'flavor=large', 'duration=1', 'timestamp=1700000000.5'], {
      env: { METRICS_LOG_PATH: log },
    });
    assert.equal(again.code, 0, again.stderr);
    const second = (await readFile(log, 'utf8')).split('\n')[1]!;
    assert.equal(second, '{"timestamp":1700000000.5,"event":"runner_installed","flavor":"large","duration":1}');
  });

  test('nested fields, integers and optional fields', async () => {
    const log = join(dir, 'stop.log');
    const r = await runCli(
      [
        'event',
        'runner_stop',
        'flavor=small',
        'workflow=CI build',
        'repo=o/r',
        'github_event=push',
        'status=normal',
        'status_info.code=1',
        'job_duration=30',
      ],
      { env: { METRICS_LOG_PATH: log } },
    );
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(await readFile(log, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(e.status_info, { code: 1 });
    assert.equal(e.workflow, 'CI build');
    assert.ok(!('job_conclusion' in e), 'absent optional fields are left out');
  });

  test('a negative duration: exit 2, the field named, nothing appended', async () => {
    const log = join(dir, 'neg.log');
    const r = await runCli(['event', 'runner_installed', 'flavor=small', 'duration=-1'], { env: { METRICS_LOG_PATH: log } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /RunnerInstalled/);
    assert.match(r.stderr, /field "duration" must be >= 0, got -1/);
    assert.equal(await exists(log), false, 'nothing appended');
  });

  test('a missing flavor: exit 2, the field named, nothing appended', async () => {
    const log = join(dir, 'missing.log');
    const r = await runCli(['event', 'runner_installed', 'duration=12.5'], { env: { METRICS_LOG_PATH: log } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /field "flavor" is required but missing/);
    assert.equal(await exists(log), false);
  });

  test('other bad input: exit 2 with a clear message', async () => {
    const log = join(dir, 'bad.log');
    const env = { METRICS_LOG_PATH: log };
    const cases: [string[], RegExp][] = [
      [['event', 'runner_instaled', 'flavor=s', 'duration=1'], /unknown event "runner_instaled": known events are .*runner_installed/],
      [['event', 'runner_installed', 'flavor=s', 'duration=fast'], /field "duration" must be a number, got the string "fast"/],
      [['event', 'runner_installed', 'flavor=s', 'duration=1', 'colour=red'], /field "colour" is not a field of RunnerInstalled/],
      [['event', 'runner_installed', 'flavor', 'duration=1'], /"flavor" is not key=value/],
      [
        [
          'event',
          'reconciliation',
          'flavor=s',
          'crashed_runners=1.5',
          'idle_runners=0',
          'active_runners=0',
          'expected_runners=0',
          'duration=1',
        ],
        /field "crashed_runners" must be an integer/,
      ],
      [['event'], /name the event/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    assert.equal(await exists(log), false);
  });

  test('no sink configured: exit 2 naming METRICS_LOG_PATH', async () => {
    const r = await runCli(['event', 'runner_installed', 'flavor=small', 'duration=1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /METRICS_LOG_PATH/);
  });

  test('a log that cannot be written: exit 1 naming the path', async () => {
    const log = join(dir, 'no-such-dir', 'm.log');
    const r = await runCli(['event', 'runner_installed', 'flavor=small', 'duration=1'], { env: { METRICS_LOG_PATH: log } });
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(log), r.stderr);
  });

  test('--list shows the events with their fields; --json for scripts', async () => {
    const r = await runCli(['event', '--list']);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['runner_installed', 'runner_start', 'runner_stop', 'reconciliation'])
      assert.match(r.stdout, new RegExp(`^${name}`, 'm'));
    assert.match(r.stdout, /^\s+duration\s+number >= 0/m);
    assert.match(r.stdout, /^\s+queue_duration\s+number >= 0, optional/m);
    assert.match(r.stdout, /^\s+status_info\.code\s+integer/m);
    assert.match(r.stdout, /^\s+crashed_runners\s+integer >= 0/m);
    const j = await runCli(['event', '--list', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const list = JSON.parse(j.stdout) as { name: string; fields: { path: string; type: string; optional: boolean }[] }[];
    const installed = list.find((e) => e.name === 'runner_installed')!;
    assert.deepEqual(
      installed.fields.map((f) => [f.path, f.type, f.optional]),
      [
        ['timestamp', 'number', true],
        ['flavor', 'string', false],
        ['duration', 'number', false],
      ],
    );
  });

  test('--help', async () => {
    const r = await runCli(['event', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /METRICS_EVENT_SINKS/);
    assert.match(r.stdout, /--list/);
  });
});
