/**
 * The github_runner collector: extraction of the runners' metrics files from a shared storage,
 * as a user runs it (`bin/metrics run github_runner`), against storages built in temp dirs with
 * valid, partial, corrupt, oversized, symlinked and FIFO entries; the quarantine archives listed
 * back with node-tar; the dry-run that changes nothing; the bounds; the events as points in the
 * real InfluxDB 1.6.7.
 *
 * Non-dry runs write their points to a stand-in for InfluxDB 1.x's `POST /write` (it answers 204
 * No Content, as InfluxDB does, and records the line protocol), so that the extraction tests run
 * anywhere; the last tests write to the real influxd and read the points back with SELECT (also
 * when another runner fails: the good runners' events are delivered, the failed folder stays).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  existsSync,
  appendFileSync,
  chmodSync,
  lutimesSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import * as tar from 'tar';
import { runnerEvents } from '../../../src/collectors/github_runner/github_runner.js';
import {
  CorruptDataError,
  isValidRunnerName,
  parseJsonMetrics,
  parseTimestampText,
  PostJobMetrics,
  PreJobMetrics,
  readBoundedFile,
  readRunnerFolder,
} from '../../../src/collectors/github_runner/extract.js';
import {
  runCli,
  startHttpFixtureServer,
  startInfluxd,
  type CliOptions,
  type CliResult,
  type HttpFixtureServer,
  type Influxd,
} from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'github-runner-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
/** A fresh directory under this file's temp root. */
function freshDir(name: string): string {
  const d = join(root, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a declarative tree, built in a temp dir

type Node = { file: string | Buffer } | { link: string } | { fifo: true } | { dir: Record<string, Node> };
const file = (content: string | Buffer): Node => ({ file: content });
const link = (target: string): Node => ({ link: target });
const fifo: Node = { fifo: true };
const dir = (entries: Record<string, Node>): Node => ({ dir: entries });

/** When fixtures were last modified: 10 minutes ago, older than RUNNER_METRICS_MIN_AGE's 330 s. */
const AGED = new Date(Date.now() - 10 * 60 * 1000);

/**
 * Builds the fixture, every entry (links themselves included) modified 10 minutes ago, as the
 * folders of runners gone for a while are: a fresh folder is left alone (RUNNER_METRICS_MIN_AGE).
 */
function build(path: string, node: Node): void {
  if ('file' in node) writeFileSync(path, node.file);
  else if ('link' in node) symlinkSync(node.link, path);
  else if ('fifo' in node) execFileSync('mkfifo', [path]);
  else {
    mkdirSync(path);
    for (const [name, child] of Object.entries(node.dir)) build(join(path, name), child);
  }
  lutimesSync(path, AGED, AGED);
}

interface ArchiveEntry {
  path: string;
  type: string;
  linkpath?: string;
  content?: string;
}

/** What the archive of `name` must hold: every entry of the fixture, links as links. */
function expectedEntries(name: string, node: Node): ArchiveEntry[] {
  const out: ArchiveEntry[] = [];
  const walk = (p: string, n: Node): void => {
    if ('file' in n) out.push({ path: p, type: 'File', content: Buffer.from(n.file).toString('base64') });
    else if ('link' in n) out.push({ path: p, type: 'SymbolicLink', linkpath: n.link });
    else if ('fifo' in n) out.push({ path: p, type: 'FIFO' });
    else {
      out.push({ path: p + '/', type: 'Directory' });
      for (const [k, c] of Object.entries(n.dir)) walk(`${p}/${k}`, c);
    }
  };
  walk(name, node);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** The entries of a .tar.gz, read back with node-tar. */
function listArchive(path: string): ArchiveEntry[] {
  const out: ArchiveEntry[] = [];
  tar.t({
    file: path,
    sync: true,
    onReadEntry: (e) => {
      const entry: ArchiveEntry = { path: e.path, type: e.type };
      if (e.linkpath) entry.linkpath = e.linkpath;
      if (e.type === 'File') {
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () => (entry.content = Buffer.concat(chunks).toString('base64')));
      }
      out.push(entry);
    },
  });
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Every entry under a directory (links not followed): path, type, size, mode, mtime, link target. */
function snapshot(path: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string): void => {
    const st = lstatSync(p);
    const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFIFO() ? 'p' : st.isFile() ? 'f' : '?';
    out.push(`${rel} ${type} ${st.size} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}${type === 'l' ? ' -> ' + readlinkSync(p) : ''}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n), `${rel}/${n}`);
  };
  walk(path, '.');
  return out;
}

const SECRET = 'SECRET-TARGET-WAS-READ';

const pre = (o: Record<string, unknown>) =>
  JSON.stringify({ workflow: 'CI build', workflow_run_id: '4242', repository: 'octo/widgets', event: 'push', ...o });
const post = (o: Record<string, unknown>) => JSON.stringify(o);

interface Storage {
  base: string;
  storage: string;
  quarantine: string;
  outside: string;
  log: string;
  excludeFile: string;
  state: string;
  runners: Record<string, Node>;
}

/**
 * The acceptance storage: every kind of entry the issue lists. `outside` holds link targets whose
 * content would show up in events (the SECRET workflow) if they were ever read.
 */
function makeStorage(): Storage {
  const base = freshDir('acceptance');
  const storage = join(base, 'storage');
  const outside = join(base, 'outside');
  mkdirSync(storage);
  build(
    outside,
    dir({
      'secret-pre.json': file(pre({ timestamp: 1700000500, workflow: SECRET })),
      fifo,
      'runner-dir': dir({
        'runner-installed.timestamp': file('1700000000\n'),
        'pre-job-metrics.json': file(pre({ timestamp: 1700000010, workflow: SECRET })),
      }),
    }),
  );
  const runners: Record<string, Node> = {
    // valid
    'full-1': dir({
      'runner-installation-start.timestamp': file('1700000000\n'),
      'runner-installed.timestamp': file('1700000100.5\n'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700000200 })),
      'post-job-metrics.json': file(post({ timestamp: 1700000260.25, status: 'abnormal', status_info: { code: 3 } })),
    }),
    skew: dir({
      'runner-installation-start.timestamp': file('1700001000'),
      'runner-installed.timestamp': file('1700000990'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700000980, workflow: 'nightly', event: 'schedule' })),
      'post-job-metrics.json': file(post({ timestamp: 1700000970, status: 'normal' })),
    }),
    'no-post': dir({
      'runner-installed.timestamp': file('1700002000.25\n'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700002050.75, event: 'pull_request', repository: 'octo/gadgets' })),
    }),
    'no-pre': dir({
      'runner-installation-start.timestamp': file('1700003000'),
      'runner-installed.timestamp': file('1700003012.25'),
      'post-job-metrics.json': file(post({ timestamp: 1700003100, status: 'normal' })),
    }),
    'installed-only': dir({ 'runner-installed.timestamp': file('1700004000') }),
    'with-extras': dir({
      'runner-installation-start.timestamp': file('1700005000'),
      'runner-installed.timestamp': file('1700005001'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700005011, extra_key: 'ignored' })),
      'post-job-metrics.json': file(post({ timestamp: 1700005071.5, status: 'repo-policy-check-failure', status_info: null })),
      'notes.txt': file('unknown file, ignored'),
      '.pre-job-metrics.json.tmp': file('{"half'),
      cache: dir({ x: file('y') }),
    }),
    // incomplete: no installed timestamp
    'no-installed': dir({
      'pre-job-metrics.json': file(pre({ timestamp: 1700006000 })),
      'post-job-metrics.json': file(post({ timestamp: 1700006010, status: 'normal' })),
    }),
    // corrupt
    'bad-json': dir({ 'runner-installed.timestamp': file('1700007000'), 'pre-job-metrics.json': file('{"timestamp": 1700007010,') }),
    'bad-ts': dir({ 'runner-installed.timestamp': file('yesterday') }),
    'wrong-type': dir({
      'runner-installed.timestamp': file('1700008000'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700008010 })),
      'post-job-metrics.json': file(post({ timestamp: 1700008020, status: 'normal', status_info: { code: '3' } })),
    }),
    'out-of-range': dir({ 'runner-installed.timestamp': file('1700009000'), 'pre-job-metrics.json': file(pre({ timestamp: -5 })) }),
    'bad-status': dir({
      'runner-installed.timestamp': file('1700009000'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700009010 })),
      'post-job-metrics.json': file(post({ timestamp: 1700009020, status: 'exploded' })),
    }),
    'non-object': dir({ 'runner-installed.timestamp': file('1700010000'), 'post-job-metrics.json': file('[1, 2, 3]') }),
    'newline-tag': dir({
      'runner-installed.timestamp': file('1700010000'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700010001, workflow: 'CI\nevil=1' })),
    }),
    'not-utf8': dir({
      'runner-installed.timestamp': file('1700010000'),
      'pre-job-metrics.json': file(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    }),
    oversized: dir({
      'runner-installed.timestamp': file('1700011000'),
      'pre-job-metrics.json': file(pre({ timestamp: 1700011010 }) + ' '.repeat(1100)),
    }),
    // hostile: links and FIFOs
    'link-file': dir({ 'runner-installed.timestamp': file('1700012000'), 'pre-job-metrics.json': link(join(outside, 'secret-pre.json')) }),
    'link-passwd': dir({ 'runner-installed.timestamp': file('1700012000'), 'post-job-metrics.json': link('/etc/passwd') }),
    'link-to-fifo': dir({ 'runner-installed.timestamp': file('1700012000'), 'pre-job-metrics.json': link(join(outside, 'fifo')) }),
    'link-folder': link(join(outside, 'runner-dir')),
    'fifo-file': dir({ 'runner-installed.timestamp': file('1700013000'), 'post-job-metrics.json': fifo }),
    'fifo-top': fifo,
    'corrupt-extras': dir({
      'runner-installed.timestamp': file('1700014000'),
      'pre-job-metrics.json': file('not json'),
      'passwd-link': link('/etc/passwd'),
      'a-fifo': fifo,
      sub: dir({ deeper: dir({ 'f.txt': file('deep content') }), 'up-link': link('../../../outside/runner-dir') }),
    }),
    // alive: excluded by name
    'alive-1': dir({ 'runner-installed.timestamp': file('1700015000'), 'pre-job-metrics.json': file(pre({ timestamp: 1700015010 })) }),
    'alive-2': dir({ 'runner-installed.timestamp': file('1700015000'), 'pre-job-metrics.json': file(pre({ timestamp: 1700015010 })) }),
    // names that are not runner names: never touched
    'bad name': dir({ 'runner-installed.timestamp': file('1700016000') }),
    '.hidden': dir({ 'runner-installed.timestamp': file('1700016000') }),
  };
  for (const [name, node] of Object.entries(runners)) build(join(storage, name), node);
  const excludeFile = join(base, 'live-runners');
  writeFileSync(excludeFile, '# runners alive right now\nalive-2\n\n');
  const state = join(base, 'state');
  mkdirSync(state);
  return { base, storage, quarantine: `${storage}-quarantine`, outside, log: join(base, 'metrics.log'), excludeFile, state, runners };
}

const CORRUPT = [
  'bad-json',
  'bad-ts',
  'wrong-type',
  'out-of-range',
  'bad-status',
  'non-object',
  'newline-tag',
  'not-utf8',
  'oversized',
  'link-file',
  'link-passwd',
  'link-to-fifo',
  'link-folder',
  'fifo-file',
  'fifo-top',
  'corrupt-extras',
];
const PROCESSED = ['full-1', 'skew', 'no-post', 'no-pre', 'installed-only', 'with-extras', 'no-installed', ...CORRUPT];
const UNTOUCHED = ['.hidden', 'alive-1', 'alive-2', 'bad name'];

const job = { flavor: 'small', workflow: 'CI build', repo: 'octo/widgets', github_event: 'push' };
/** The events of the acceptance storage, computed by hand from the fixture. */
const EXPECTED_EVENTS = [
  { timestamp: 1700000100.5, event: 'runner_installed', flavor: 'small', duration: 100.5 },
  { timestamp: 1700000200, event: 'runner_start', ...job, idle: 99.5 },
  { timestamp: 1700000260.25, event: 'runner_stop', ...job, status: 'abnormal', status_info: { code: 3 }, job_duration: 60.25 },
  // clock skew: every difference negative, clamped to 0
  { timestamp: 1700000990, event: 'runner_installed', flavor: 'small', duration: 0 },
  { timestamp: 1700000980, event: 'runner_start', ...job, workflow: 'nightly', github_event: 'schedule', idle: 0 },
  { timestamp: 1700000970, event: 'runner_stop', ...job, workflow: 'nightly', github_event: 'schedule', status: 'normal', job_duration: 0 },
  // no post-job: a start, no stop (no installation start: no installed event)
  { timestamp: 1700002050.75, event: 'runner_start', ...job, repo: 'octo/gadgets', github_event: 'pull_request', idle: 50.5 },
  // no pre-job: no start and no stop
  { timestamp: 1700003012.25, event: 'runner_installed', flavor: 'small', duration: 12.25 },
  // unknown entries ignored; unknown JSON keys ignored; status_info null = absent
  { timestamp: 1700005001, event: 'runner_installed', flavor: 'small', duration: 1 },
  { timestamp: 1700005011, event: 'runner_start', ...job, idle: 10 },
  { timestamp: 1700005071.5, event: 'runner_stop', ...job, status: 'repo-policy-check-failure', job_duration: 60.5 },
];
const byTime = (a: { timestamp?: unknown }, b: { timestamp?: unknown }) => Number(a.timestamp) - Number(b.timestamp);

const SUMMARY = new RegExp(
  /runners: 6 extracted, 16 quarantined, 1 incomplete \(no installed timestamp\), 0 failed, 0 /.source +
    /parked; skipped: 2 excluded, 0 left for the next run \(RUNNER_METRICS_MAX_RUNNERS=100\), 1 with /.source +
    /an invalid name, 0 younger than RUNNER_METRICS_MIN_AGE=330s; events: 4 runner_installed, 4 /.source +
    /runner_start, 3 runner_stop/.source,
);
const EMPTY_SUMMARY = new RegExp(
  /runners: 0 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 0 failed, 0 /.source +
    /parked; skipped: 2 excluded, 0 left for the next run \(RUNNER_METRICS_MAX_RUNNERS=100\), 1 with /.source +
    /an invalid name, 0 younger than RUNNER_METRICS_MIN_AGE=330s; events: 0 runner_installed, 0 /.source +
    /runner_start, 0 runner_stop/.source,
);

function readLog(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

// ---------------------------------------------------------------------------------------------
// A stand-in for InfluxDB 1.x's POST /write

let influxStandIn: HttpFixtureServer;
before(async () => {
  influxStandIn = await startHttpFixtureServer({ 'POST /write': { status: 204 } });
});
after(async () => {
  await influxStandIn?.close();
});

function envFor(s: Storage, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    STATE_DIRECTORY: s.state,
    METRICS_LOG_PATH: s.log,
    RUNNER_METRICS_STORAGE: s.storage,
    RUNNER_FLAVOR: 'small',
    RUNNER_METRICS_EXCLUDE: 'alive-1, some-other-live-runner',
    RUNNER_METRICS_EXCLUDE_FILE: s.excludeFile,
    INFLUXDB_HOSTNAME: '127.0.0.1',
    INFLUXDB_PORT: String(influxStandIn.port),
    INFLUXDB_DATABASE: 'runners',
    ...extra,
  };
}

const collector = (args: string[], opts: CliOptions) => runCli(['run', 'github_runner', ...args], { timeoutMs: 30_000, ...opts });

/** The line protocol the stand-in received since `from`. */
function writtenLines(from: number): string[] {
  return influxStandIn.requests
    .slice(from)
    .filter((r) => r.path === '/write')
    .flatMap((r) => r.text.split('\n'))
    .filter((l) => l.startsWith('runner_'));
}

// ---------------------------------------------------------------------------------------------

describe('acceptance: one run over a storage with every kind of entry', () => {
  let s: Storage;
  let first: CliResult;
  let firstLines: string[];
  const outsideBefore: string[] = [];

  before(async () => {
    s = makeStorage();
    outsideBefore.push(...snapshot(s.outside));
    const from = influxStandIn.requests.length;
    first = await collector([], { env: envFor(s) });
    firstLines = writtenLines(from);
  });

  test('the run ends without hanging, exit 0', () => {
    assert.equal(first.code, 0, show(first));
    assert.match(first.stderr, /github_runner\s+ok\s+11 points \(runner_installed 4, runner_start 4, runner_stop 3\)/, show(first));
  });

  test('the right events, with exact values, in the metrics log', () => {
    const got = readLog(s.log).sort(byTime);
    assert.deepEqual(got, [...EXPECTED_EVENTS].sort(byTime));
  });

  test('the events went to InfluxDB as points with the collector points', () => {
    assert.equal(firstLines.length, 11, firstLines.join('\n'));
    assert.ok(
      firstLines.includes(
        'runner_stop,flavor=small,github_event=push,repo=octo/widgets,status=abnormal,workflow=CI\\ build ' +
          'status_info_code=3i,job_duration=60.25 1700000260250000000',
      ),
      firstLines.join('\n'),
    );
    assert.ok(firstLines.includes('runner_installed,flavor=small duration=100.5 1700000100500000000'), firstLines.join('\n'));
    assert.ok(
      firstLines.includes(
        'runner_start,flavor=small,github_event=push,repo=octo/widgets,workflow=CI\\ build idle=99.5 1700000200000000000',
      ),
      firstLines.join('\n'),
    );
  });

  test('clamping, partial folders, unknown entries and the missing installed timestamp are logged', () => {
    assert.match(
      first.stderr,
      new RegExp(
        /warn \[github_runner\] runner skew: the idle time \(pre-job − installed\) is 10\.000 s negative /.source +
          /\(clock skew or a cancelled job\): set to 0/.source,
      ),
    );
    assert.match(first.stderr, /runner skew: the job duration \(post-job − pre-job\) is 10\.000 s negative/);
    assert.match(first.stderr, /runner skew: the installation duration \(installed − installation start\) is 10\.000 s negative/);
    assert.match(first.stderr, /runner no-pre: post-job-metrics\.json without pre-job-metrics\.json: no runner_stop is issued/);
    assert.match(
      first.stderr,
      new RegExp(
        /runner with-extras: 3 unexpected entries in .*with-extras ignored \(not read; removed with the /.source +
          /folder\): \.pre-job-metrics\.json\.tmp, cache, notes\.txt/.source,
      ),
    );
    assert.match(
      first.stderr,
      /error \[github_runner\] runner no-installed: no runner-installed\.timestamp in .*: nothing is issued for this runner/,
    );
  });

  test('the summary says how many of each', () => {
    assert.match(first.stderr, SUMMARY, show(first));
  });

  test('every corrupt entry names its problem', () => {
    const reasons: Record<string, RegExp> = {
      'bad-json': /pre-job-metrics\.json is not valid JSON/,
      'bad-ts': /runner-installed\.timestamp must hold a UNIX time in seconds .* got "yesterday"/,
      'wrong-type': /post-job-metrics\.json: field "status_info\.code"/,
      'out-of-range': /pre-job-metrics\.json: field "timestamp"/,
      'bad-status': /post-job-metrics\.json: field "status"/,
      'non-object': /post-job-metrics\.json must hold a JSON object, got an array/,
      'newline-tag': /pre-job-metrics\.json: field "workflow": must not contain control characters/,
      'not-utf8': /pre-job-metrics\.json is not UTF-8 text/,
      oversized: /pre-job-metrics\.json is \d+ bytes, over the limit of 1024 bytes/,
      'link-file': /link-file\/pre-job-metrics\.json is a symbolic link, not a regular file/,
      'link-passwd': /link-passwd\/post-job-metrics\.json is a symbolic link, not a regular file/,
      'link-to-fifo': /link-to-fifo\/pre-job-metrics\.json is a symbolic link, not a regular file/,
      'link-folder': /link-folder is a symbolic link, not a runner folder/,
      'fifo-file': /fifo-file\/post-job-metrics\.json is a FIFO, not a regular file/,
      'fifo-top': /fifo-top is a FIFO, not a runner folder/,
      'corrupt-extras': /corrupt-extras\/pre-job-metrics\.json is not valid JSON/,
    };
    assert.deepEqual(Object.keys(reasons).sort(), [...CORRUPT].sort());
    for (const [name, re] of Object.entries(reasons)) {
      const line = first.stderr.split('\n').find((l) => l.includes(`runner ${name}: corrupt data:`));
      assert.ok(line, `no corrupt-data line for ${name}\n${show(first)}`);
      assert.match(line, re, name);
    }
  });

  test('corrupt entries are in the quarantine (mode 0700) as archives of exactly their original entries', () => {
    assert.equal(statSync(s.quarantine).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(s.quarantine).sort(), CORRUPT.map((n) => `${n}.tar.gz`).sort());
    for (const name of CORRUPT) {
      const archive = join(s.quarantine, `${name}.tar.gz`);
      assert.equal(statSync(archive).mode & 0o777, 0o600, archive);
      assert.deepEqual(listArchive(archive), expectedEntries(name, s.runners[name]!), name);
    }
  });

  test('links were archived as links: no target content in any archive', () => {
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0]!;
    for (const name of CORRUPT) {
      const raw = gunzipSync(readFileSync(join(s.quarantine, `${name}.tar.gz`))).toString('latin1');
      assert.ok(!raw.includes(SECRET), `${name}: the archive holds the link target's content`);
      assert.ok(!raw.includes(passwd), `${name}: the archive holds /etc/passwd`);
    }
  });

  test('processed folders are gone; excluded, hidden and badly named ones untouched', () => {
    assert.deepEqual(readdirSync(s.storage).sort(), UNTOUCHED.sort());
    for (const name of PROCESSED) assert.ok(!existsSync(join(s.storage, name)) && !lstatExists(join(s.storage, name)), name);
  });

  test('the linked targets were never read nor touched', () => {
    assert.deepEqual(snapshot(s.outside), outsideBefore);
    for (const text of [first.stdout, first.stderr, readFileSync(s.log, 'utf8'), firstLines.join('\n')]) {
      assert.ok(!text.includes(SECRET));
    }
  });

  test('a second run over the same storage issues nothing new', async () => {
    const logBefore = readFileSync(s.log, 'utf8');
    const quarantineBefore = snapshot(s.quarantine);
    const from = influxStandIn.requests.length;
    const second = await collector([], { env: envFor(s) });
    assert.equal(second.code, 0, show(second));
    assert.match(second.stderr, EMPTY_SUMMARY, show(second));
    assert.equal(readFileSync(s.log, 'utf8'), logBefore);
    assert.deepEqual(writtenLines(from), []);
    assert.deepEqual(snapshot(s.quarantine), quarantineBefore);
    assert.deepEqual(readdirSync(s.storage).sort(), UNTOUCHED.sort());
  });
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

describe('--dry-run', () => {
  test('shows the same events and summary, and changes nothing on disk', async () => {
    const s = makeStorage();
    const before = snapshot(s.base);
    const r = await collector(['--dry-run', '--format', 'lp'], { env: envFor(s) });
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 11, show(r));
    assert.ok(
      lines.includes(
        'runner_stop,flavor=small,github_event=push,repo=octo/widgets,status=abnormal,workflow=CI\\ build ' +
          'status_info_code=3i,job_duration=60.25 1700000260250000000',
      ),
      show(r),
    );
    assert.match(r.stderr, /dry-run: runners: 6 extracted, 16 quarantined, 1 incomplete/, show(r));
    assert.match(r.stderr, SUMMARY);
    assert.match(r.stderr, /dry-run: would archive .*\/bad-json to .*-quarantine\/bad-json\.tar\.gz and remove it/);
    assert.match(r.stderr, /dry-run: would remove .*\/full-1 \(extracted\)/);
    // nothing changed: no removal, no quarantine, no metrics log
    assert.deepEqual(snapshot(s.base), before);
    assert.ok(!existsSync(s.quarantine));
    assert.ok(!existsSync(s.log));
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
  });
});

describe('bounds and selection', () => {
  const valid = (ts: number): Node =>
    dir({ 'runner-installed.timestamp': file(String(ts)), 'pre-job-metrics.json': file(pre({ timestamp: ts + 5 })) });

  function smallStorage(names: string[]): { storage: string; env: Record<string, string> } {
    const base = freshDir('small');
    const storage = join(base, 'storage');
    mkdirSync(storage);
    names.forEach((n, i) => {
      build(join(storage, n), valid(1700100000 + i * 100));
    });
    mkdirSync(join(base, 'state'));
    return {
      storage,
      env: {
        STATE_DIRECTORY: join(base, 'state'),
        METRICS_LOG_PATH: join(base, 'metrics.log'),
        RUNNER_METRICS_STORAGE: storage,
        RUNNER_FLAVOR: 'large',
        INFLUXDB_HOSTNAME: '127.0.0.1',
        INFLUXDB_PORT: String(influxStandIn.port),
        INFLUXDB_DATABASE: 'runners',
      },
    };
  }

  test('RUNNER_METRICS_MAX_RUNNERS bounds one run; the rest wait for the next runs', async () => {
    const { storage, env } = smallStorage(['r1', 'r2', 'r3', 'r4', 'r5']);
    const e = { ...env, RUNNER_METRICS_MAX_RUNNERS: '2' };
    const left: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await collector([], { env: e });
      assert.equal(r.code, 0, show(r));
      const m = /runners: (\d+) extracted.*skipped: 0 excluded, (\d+) left for the next run \(RUNNER_METRICS_MAX_RUNNERS=2\)/.exec(
        r.stderr,
      );
      assert.ok(m, show(r));
      left.push(Number(m[1]), Number(m[2]));
      if (i === 0)
        assert.match(r.stderr, /warn \[github_runner\] 3 more runner folders than RUNNER_METRICS_MAX_RUNNERS=2: left for the next run/);
    }
    assert.deepEqual(left, [2, 3, 2, 1, 1, 0, 0, 0]);
    assert.deepEqual(readdirSync(storage), []);
    assert.equal(readLog(env.METRICS_LOG_PATH).filter((l) => l.event === 'runner_start').length, 5);
  });

  test('RUNNER_METRICS_INCLUDE: only those runners; the exclusion still applies', async () => {
    const { storage, env } = smallStorage(['a', 'b', 'c', 'd']);
    const r = await collector([], { env: { ...env, RUNNER_METRICS_INCLUDE: 'a,b,d', RUNNER_METRICS_EXCLUDE: 'd' } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /runners: 2 extracted, .*skipped: 2 excluded/);
    assert.deepEqual(readdirSync(storage).sort(), ['c', 'd']);
  });

  test(
    'grace period: a fresh unlisted folder (or one modified in the future) is left for a later run; ' + 'aged 10 minutes it is extracted',
    async () => {
      const { storage, env } = smallStorage(['fresh', 'future']);
      const now = new Date();
      utimesSync(join(storage, 'fresh'), now, now);
      const inAnHour = new Date(now.getTime() + 3600 * 1000);
      utimesSync(join(storage, 'future'), inAnHour, inAnHour);
      const first = await collector([], { env });
      assert.equal(first.code, 0, show(first));
      assert.match(
        first.stderr,
        new RegExp(
          /info \[github_runner\] 2 runner folders modified less than 330 s ago /.source +
            /\(RUNNER_METRICS_MIN_AGE\), maybe of runners still being created: left for a later run/.source,
        ),
        show(first),
      );
      assert.match(
        first.stderr,
        new RegExp(
          /runners: 0 extracted, .*; skipped: 0 excluded, 0 left for the next run /.source +
            /\(RUNNER_METRICS_MAX_RUNNERS=100\), 0 with an invalid name, 2 younger than /.source +
            /RUNNER_METRICS_MIN_AGE=330s; /.source,
        ),
        show(first),
      );
      assert.deepEqual(readdirSync(storage).sort(), ['fresh', 'future']);
      assert.deepEqual(readLog(env.METRICS_LOG_PATH), []);

      execFileSync('touch', ['-d', '10 minutes ago', join(storage, 'fresh')]);
      const second = await collector([], { env });
      assert.equal(second.code, 0, show(second));
      assert.match(second.stderr, /runners: 1 extracted, .*, 1 younger than RUNNER_METRICS_MIN_AGE=330s; /, show(second));
      assert.deepEqual(readdirSync(storage), ['future']);
      assert.equal(readLog(env.METRICS_LOG_PATH).filter((l) => l.event === 'runner_start').length, 1);
    },
  );

  test(
    'grace period: RUNNER_METRICS_MIN_AGE=900 keeps a 10-minute-old folder, 0 turns it off; a folder named in ' +
      'RUNNER_METRICS_INCLUDE has none',
    async () => {
      const { storage, env } = smallStorage(['aged', 'fresh1', 'fresh2']);
      const now = new Date();
      for (const n of ['fresh1', 'fresh2']) utimesSync(join(storage, n), now, now);
      let r = await collector([], { env: { ...env, RUNNER_METRICS_MIN_AGE: '900' } });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /runners: 0 extracted, .*, 3 younger than RUNNER_METRICS_MIN_AGE=900s; /, show(r));
      // the manager names the runners it has just deleted: they are extracted at once
      r = await collector([], { env: { ...env, RUNNER_METRICS_INCLUDE: 'fresh1' } });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /runners: 1 extracted, .*skipped: 2 excluded, .*, 0 younger than RUNNER_METRICS_MIN_AGE=330s; /, show(r));
      assert.deepEqual(readdirSync(storage).sort(), ['aged', 'fresh2']);
      r = await collector([], { env: { ...env, RUNNER_METRICS_MIN_AGE: '0' } });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /runners: 2 extracted, .*, 0 younger than RUNNER_METRICS_MIN_AGE=0s; /, show(r));
      assert.deepEqual(readdirSync(storage), []);
    },
  );

  test('RUNNER_METRICS_MIN_AGE: seconds from 0 to a week, decimals allowed; anything else is named', async () => {
    const { env } = smallStorage(['a']);
    for (const ok of ['5.5', ' 0 ', '604800']) {
      const r = await collector(['--dry-run'], { env: { ...env, RUNNER_METRICS_MIN_AGE: ok } });
      assert.equal(r.code, 0, `${JSON.stringify(ok)}\n${show(r)}`);
    }
    for (const bad of ['-1', 'abc', '1e3', '604800.5']) {
      const r = await collector(['--dry-run'], { env: { ...env, RUNNER_METRICS_MIN_AGE: bad } });
      assert.equal(r.code, 1, `${bad}\n${show(r)}`);
      assert.ok(
        r.stderr.includes(
          `RUNNER_METRICS_MIN_AGE=${JSON.stringify(bad)} must be a number of seconds from 0 to 604800 (a week), such as 330 or 5.5 ` +
            `(default 330 = 5.5 minutes, the runner-creation timeout; 0 turns the grace period off)`,
        ),
        `${bad}\n${show(r)}`,
      );
    }
  });

  test('a missing RUNNER_METRICS_STORAGE fails this collector only (exit 1), naming the variable', async () => {
    const r = await runCli(['run', 'github_runner', 'system', '--dry-run'], { env: { RUNNER_FLAVOR: 'x' } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /github_runner\s+FAILED/, show(r));
    assert.match(r.stderr, /RUNNER_METRICS_STORAGE is not set/, show(r));
    assert.match(r.stderr, /system\s+ok/, show(r));
  });

  test('an unreadable exclude file stops the run before anything is touched', async () => {
    const { storage, env } = smallStorage(['a']);
    const r = await collector([], { env: { ...env, RUNNER_METRICS_EXCLUDE_FILE: join(storage, '..', 'missing') } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /RUNNER_METRICS_EXCLUDE_FILE=.*missing: cannot read the list of live runners/, show(r));
    assert.deepEqual(readdirSync(storage), ['a']);
  });

  test('RUNNER_FLAVOR is required; bad numbers are named', async () => {
    const { env } = smallStorage(['a']);
    let r = await collector(['--dry-run'], { env: { ...env, RUNNER_FLAVOR: undefined } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /RUNNER_FLAVOR is not set/);
    r = await collector(['--dry-run'], { env: { ...env, RUNNER_METRICS_MAX_RUNNERS: '0' } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /RUNNER_METRICS_MAX_RUNNERS="0" must be a whole number from 1/);
  });

  test('a quarantine inside the storage is refused', async () => {
    const { storage, env } = smallStorage(['a']);
    const r = await collector(['--dry-run'], { env: { ...env, RUNNER_METRICS_QUARANTINE: join(storage, 'q') } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /RUNNER_METRICS_QUARANTINE=.* is inside the storage/);
  });

  test('when the event sinks fail, the folders stay for the next run (exit 1)', async () => {
    const { storage, env } = smallStorage(['a', 'b']);
    const r = await collector([], { env: { ...env, METRICS_LOG_PATH: join(storage, '..', 'no-such-dir', 'metrics.log') } });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /runner a: cannot issue event runner_start: .*its folder is left for the next run/, show(r));
    assert.match(r.stderr, /1 runner folders left for the next run/);
    assert.deepEqual(readdirSync(storage).sort(), ['a', 'b']);
  });
});

describe('the quarantine', () => {
  test('an existing archive is never overwritten; a loose quarantine mode is set to 0700', async () => {
    const base = freshDir('overwrite');
    const storage = join(base, 'storage');
    const quarantine = join(base, 'q');
    mkdirSync(storage);
    mkdirSync(quarantine, { mode: 0o755 });
    chmodSync(quarantine, 0o755);
    writeFileSync(join(quarantine, 'r.tar.gz'), 'an older archive');
    writeFileSync(join(quarantine, 'r.1.tar.gz'), 'another older archive');
    const node = dir({ 'runner-installed.timestamp': file('garbage') });
    build(join(storage, 'r'), node);
    mkdirSync(join(base, 'state'));
    const r = await collector([], {
      env: {
        STATE_DIRECTORY: join(base, 'state'),
        RUNNER_METRICS_STORAGE: storage,
        RUNNER_METRICS_QUARANTINE: quarantine,
        RUNNER_FLAVOR: 'x',
        INFLUXDB_HOSTNAME: '127.0.0.1',
        INFLUXDB_PORT: String(influxStandIn.port),
        INFLUXDB_DATABASE: 'runners',
      },
    });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /the quarantine directory .* had mode 755: set to 0700/);
    assert.equal(statSync(quarantine).mode & 0o777, 0o700);
    assert.equal(readFileSync(join(quarantine, 'r.tar.gz'), 'utf8'), 'an older archive');
    assert.equal(readFileSync(join(quarantine, 'r.1.tar.gz'), 'utf8'), 'another older archive');
    assert.deepEqual(listArchive(join(quarantine, 'r.2.tar.gz')), expectedEntries('r', node));
    assert.deepEqual(readdirSync(quarantine).sort(), ['r.1.tar.gz', 'r.2.tar.gz', 'r.tar.gz']);
    assert.deepEqual(readdirSync(storage), []);
  });

  test('a link planted at an archive name is never written through: the archive takes the next free name', async () => {
    const base = freshDir('planted');
    const storage = join(base, 'storage');
    const quarantine = join(base, 'q');
    mkdirSync(storage);
    mkdirSync(quarantine, { mode: 0o700 });
    const outside = join(base, 'outside.txt');
    writeFileSync(outside, 'must stay as it is');
    symlinkSync(outside, join(quarantine, 'r.tar.gz'));
    symlinkSync(join(base, 'created-through-a-link'), join(quarantine, 'r.1.tar.gz'));
    const node = dir({ 'runner-installed.timestamp': file('garbage') });
    build(join(storage, 'r'), node);
    mkdirSync(join(base, 'state'));
    const r = await collector([], {
      env: {
        STATE_DIRECTORY: join(base, 'state'),
        RUNNER_METRICS_STORAGE: storage,
        RUNNER_METRICS_QUARANTINE: quarantine,
        RUNNER_FLAVOR: 'x',
        INFLUXDB_HOSTNAME: '127.0.0.1',
        INFLUXDB_PORT: String(influxStandIn.port),
        INFLUXDB_DATABASE: 'runners',
      },
    });
    assert.equal(r.code, 0, show(r));
    assert.equal(readFileSync(outside, 'utf8'), 'must stay as it is');
    assert.equal(existsSync(join(base, 'created-through-a-link')), false, 'a dangling link is never followed to create its target');
    assert.ok(lstatSync(join(quarantine, 'r.tar.gz')).isSymbolicLink());
    assert.deepEqual(listArchive(join(quarantine, 'r.2.tar.gz')), expectedEntries('r', node));
  });

  test('corrupt folders too big, too deep or with too many entries to archive are parked once; the next run exits 0', async () => {
    const base = freshDir('too-big');
    const storage = join(base, 'storage');
    mkdirSync(storage);
    const nested = (depth: number): Node => (depth === 0 ? file('bottom') : dir({ d: nested(depth - 1) }));
    const many: Record<string, Node> = {};
    for (let i = 0; i < 1001; i++) many[`f${i}`] = file('x');
    const bad = { 'runner-installed.timestamp': file('garbage') };
    const runners: Record<string, Node> = {
      big: dir({ 'pre-job-metrics.json': file('x'.repeat(5000)), 'junk.bin': file(Buffer.alloc(20000)) }),
      deep: dir({ ...bad, sub: nested(20) }),
      many: dir({ ...bad, sub: dir(many) }),
    };
    for (const [name, node] of Object.entries(runners)) build(join(storage, name), node);
    mkdirSync(join(base, 'state'));
    const env = {
      STATE_DIRECTORY: join(base, 'state'),
      RUNNER_METRICS_STORAGE: storage,
      RUNNER_FLAVOR: 'x',
      RUNNER_METRICS_MAX_QUARANTINE_BYTES: '10000',
      INFLUXDB_HOSTNAME: '127.0.0.1',
      INFLUXDB_PORT: String(influxStandIn.port),
      INFLUXDB_DATABASE: 'runners',
    };
    const r = await collector([], { env });
    assert.equal(r.code, 0, show(r));
    const why: Record<string, RegExp> = {
      big: /more than 10000 bytes \(RUNNER_METRICS_MAX_QUARANTINE_BYTES\) to archive: too big to quarantine/,
      deep: /folders nested deeper than 16: too deep to quarantine/,
      many: /more than 1000 entries: too many to quarantine/,
    };
    const parked = readdirSync(storage).sort();
    assert.equal(parked.length, 3, parked.join(', '));
    for (const [name, re] of Object.entries(why)) {
      const line = r.stderr.split('\n').find((l) => l.includes(`warn [github_runner] runner ${name}: cannot quarantine`));
      assert.ok(line, `no parking warning for ${name}\n${show(r)}`);
      assert.match(line, re, name);
      const m = new RegExp(
        `set aside as (.*/(\\.parked-${name}-\\d{8}T\\d{6}Z)): later runs leave it alone; inspect it and remove it by hand$`,
      ).exec(line);
      assert.ok(m, line);
      assert.ok(parked.includes(m[2]!), `${m[2]} not in ${parked.join(', ')}`);
      assert.equal(m[1], join(storage, m[2]!));
      // set aside whole, as it was
      assert.deepEqual(snapshotNames(m[1]!), snapshotNames(null, runners[name]!));
    }
    assert.match(r.stderr, /runners: 0 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 0 failed, 3 parked; /, show(r));
    assert.deepEqual(readdirSync(`${storage}-quarantine`), []);

    const second = await collector([], { env });
    assert.equal(second.code, 0, show(second));
    assert.match(
      second.stderr,
      /runners: 0 extracted, 0 quarantined, 0 incomplete \(no installed timestamp\), 0 failed, 0 parked; /,
      show(second),
    );
    assert.match(
      second.stderr,
      /warn \[github_runner\] 3 folders set aside by earlier runs wait in .*storage \(\.parked-\*\): inspect and remove them by hand/,
      show(second),
    );
    assert.deepEqual(readdirSync(storage).sort(), parked);
  });
});

/** The relative names under a folder on disk (`path`), or under a fixture node. */
function snapshotNames(path: string | null, node?: Node): string[] {
  const out: string[] = [];
  if (path !== null) {
    const walk = (p: string, rel: string): void => {
      for (const n of readdirSync(p)) {
        out.push(`${rel}${n}`);
        if (lstatSync(join(p, n)).isDirectory()) walk(join(p, n), `${rel}${n}/`);
      }
    };
    walk(path, '');
  } else {
    const walk = (n: Node, rel: string): void => {
      if (!('dir' in n)) return;
      for (const [k, c] of Object.entries(n.dir)) {
        out.push(`${rel}${k}`);
        walk(c, `${rel}${k}/`);
      }
    };
    walk(node!, '');
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// The pieces

describe('safe reading', () => {
  test('a file that grows between the size check and the read: at most limit + 1 bytes are read', async () => {
    const d = freshDir('grow');
    const path = join(d, 'pre-job-metrics.json');
    writeFileSync(path, pre({ timestamp: 1 }));
    let grown = 0;
    await assert.rejects(
      readBoundedFile(path, path, 1024, {
        beforeRead: () => {
          appendFileSync(path, Buffer.alloc(8 * 1024 * 1024, 0x20));
          grown = statSync(path).size;
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof CorruptDataError);
        assert.match(error.message, /grew over the limit of 1024 bytes while being read/);
        assert.equal(error.bytesRead, 1025);
        return true;
      },
    );
    assert.ok(grown > 8 * 1024 * 1024);
  });

  test('a regular file within the limit is read; a link, a FIFO, a hard link are refused unopened', async () => {
    const d = freshDir('kinds');
    writeFileSync(join(d, 'ok'), 'hello');
    symlinkSync(join(d, 'ok'), join(d, 'link'));
    execFileSync('mkfifo', [join(d, 'fifo')]);
    writeFileSync(join(d, 'hard'), 'x');
    execFileSync('ln', [join(d, 'hard'), join(d, 'hard2')]);
    assert.equal((await readBoundedFile(join(d, 'ok'), 'ok', 5))!.toString(), 'hello');
    assert.equal(await readBoundedFile(join(d, 'absent'), 'absent', 5), undefined);
    await assert.rejects(readBoundedFile(join(d, 'ok'), 'ok', 4), /5 bytes, over the limit of 4 bytes/);
    await assert.rejects(readBoundedFile(join(d, 'link'), 'link', 5), /is a symbolic link, not a regular file/);
    await assert.rejects(readBoundedFile(join(d, 'fifo'), 'fifo', 5), /is a FIFO, not a regular file/);
    await assert.rejects(readBoundedFile(join(d, 'hard'), 'hard', 5), /is a hard link/);
  });

  test('readRunnerFolder: a folder that is a link is never entered', async () => {
    const d = freshDir('linkdir');
    build(join(d, 'target'), dir({ 'runner-installed.timestamp': file('1') }));
    mkdirSync(join(d, 'storage'));
    symlinkSync(join(d, 'target'), join(d, 'storage', 'r'));
    await assert.rejects(readRunnerFolder(join(d, 'storage'), 'r', { maxFileBytes: 1024 }), /is a symbolic link, not a runner folder/);
  });

  test('runner names', () => {
    for (const ok of ['runner-1', 'small-abc123', 'a', 'A.b_c-d', 'x'.repeat(128)]) assert.ok(isValidRunnerName(ok), ok);
    for (const bad of ['', '.', '..', '.hidden', '-dash', 'a/b', 'a b', 'a\nb', 'ä', 'x'.repeat(129), '_x'])
      assert.ok(!isValidRunnerName(bad), bad);
  });

  test('timestamps: decimal seconds only, in range', () => {
    assert.equal(parseTimestampText(' 1700000000.5\n', 'f'), 1700000000.5);
    assert.equal(parseTimestampText('1700000000', 'f'), 1700000000);
    for (const bad of ['', 'abc', '-1', '1e9', 'NaN', 'Infinity', '0x10', '1,5', '99999999999']) {
      assert.throws(() => parseTimestampText(bad, 'f'), CorruptDataError, bad);
    }
  });

  test('JSON metrics: schema, unknown keys ignored', () => {
    const p = parseJsonMetrics(pre({ timestamp: 5, other: 1 }), 'f', PreJobMetrics);
    assert.deepEqual(p, { timestamp: 5, workflow: 'CI build', workflow_run_id: '4242', repository: 'octo/widgets', event: 'push' });
    assert.deepEqual(parseJsonMetrics('{"timestamp":1,"status":"normal","status_info":{"code":-1}}', 'f', PostJobMetrics), {
      timestamp: 1,
      status: 'normal',
      status_info: { code: -1 },
    });
    for (const bad of [
      'null',
      '"x"',
      '3',
      '[]',
      '{"timestamp":1,"status":"normal","status_info":{"code":1.5}}',
      '{"timestamp":1e300,"status":"normal"}',
    ]) {
      assert.throws(() => parseJsonMetrics(bad, 'f', PostJobMetrics), CorruptDataError, bad);
    }
    assert.throws(() => parseJsonMetrics(pre({ timestamp: 1, repository: 'no-slash' }), 'f', PreJobMetrics), /must be "owner\/name"/);
  });

  test('runnerEvents: differences, clamping with a warning, partial data', () => {
    const warnings: string[] = [];
    const w = (m: string) => warnings.push(m);
    const full = runnerEvents(
      {
        runner: 'r',
        installationStart: 100,
        installed: 90,
        preJob: { timestamp: 95.5, workflow: 'w', workflow_run_id: '1', repository: 'o/r', event: 'push' },
        postJob: { timestamp: 130, status: 'normal', status_info: { code: 0 } },
        unknown: [],
        unknownCount: 0,
      },
      'f',
      w,
    ).map((e) => e.toJSON());
    assert.deepEqual(full, [
      { timestamp: 90, event: 'runner_installed', flavor: 'f', duration: 0 },
      { timestamp: 95.5, event: 'runner_start', flavor: 'f', workflow: 'w', repo: 'o/r', github_event: 'push', idle: 5.5 },
      {
        timestamp: 130,
        event: 'runner_stop',
        flavor: 'f',
        workflow: 'w',
        repo: 'o/r',
        github_event: 'push',
        status: 'normal',
        status_info: { code: 0 },
        job_duration: 34.5,
      },
    ]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /installation duration .* 10\.000 s negative .* set to 0/);
    assert.deepEqual(runnerEvents({ runner: 'r', preJob: full[1] as never, unknown: [], unknownCount: 0 }, 'f', w), []);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the real InfluxDB 1.6.7', () => {
  let influx: Influxd | undefined;
  before(async () => {
    influx = await startInfluxd();
    if (influx) await influx.createDatabase('runners');
  });
  after(async () => {
    await influx?.stop();
  });

  test('the events land as points: SELECT * FROM runner_installed, runner_start, runner_stop', async (t) => {
    if (!influx) return t.skip('influxd not installed');
    const s = makeStorage();
    const r = await collector([], { env: envFor(s, { INFLUXDB_PORT: String(influx.port) }) });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /github_runner\s+ok\s+11 points .*: 11 written/, show(r));

    const stops = await influx.rows('SELECT * FROM runner_stop ORDER BY time', 'runners', { epoch: 'ns' });
    assert.equal(stops.length, 3);
    const stop = stops.find((row) => row.status === 'abnormal')!;
    assert.equal(stop.time, 1700000260250000000);
    assert.equal(stop.flavor, 'small');
    assert.equal(stop.workflow, 'CI build');
    assert.equal(stop.repo, 'octo/widgets');
    assert.equal(stop.github_event, 'push');
    assert.equal(stop.job_duration, 60.25);
    assert.equal(stop.status_info_code, 3);
    assert.deepEqual(
      stops.map((row) => [row.status, row.job_duration]),
      [
        ['abnormal', 60.25],
        ['normal', 0],
        ['repo-policy-check-failure', 60.5],
      ],
    );
    const fieldTypes = Object.fromEntries(
      (await influx.rows('SHOW FIELD KEYS FROM runner_stop', 'runners')).map((row) => [row.fieldKey, row.fieldType]),
    );
    assert.deepEqual(fieldTypes, { job_duration: 'float', status_info_code: 'integer' });

    const starts = await influx.rows('SELECT idle, workflow, github_event FROM runner_start ORDER BY time', 'runners', { epoch: 'ms' });
    assert.deepEqual(
      starts.map((row) => [row.time, row.idle, row.workflow, row.github_event]),
      [
        [1700000200000, 99.5, 'CI build', 'push'],
        [1700000980000, 0, 'nightly', 'schedule'],
        [1700002050750, 50.5, 'CI build', 'pull_request'],
        [1700005011000, 10, 'CI build', 'push'],
      ],
    );
    const installed = await influx.rows('SELECT "duration" FROM runner_installed ORDER BY time', 'runners', { epoch: 'ms' });
    assert.deepEqual(
      installed.map((row) => [row.time, row.duration]),
      [
        [1700000100500, 100.5],
        [1700000990000, 0],
        [1700003012250, 12.25],
        [1700005001000, 1],
      ],
    );
    // the collector's own run point is there too
    const runs = await influx.rows("SELECT points, success FROM collector_run WHERE collector = 'github_runner'", 'runners');
    assert.deepEqual(
      runs.map((row) => [row.points, row.success]),
      [[11, true]],
    );
  });

  test("a good runner's events reach InfluxDB although another runner fails (quarantine unusable)", async (t) => {
    if (!influx) return t.skip('influxd missing');
    await influx.createDatabase('r1b');
    const base = freshDir('gh');
    const storage = join(base, 'storage');
    mkdirSync(storage);
    const good = (name: string, start: number): void => {
      mkdirSync(join(storage, name));
      writeFileSync(join(storage, name, 'runner-installation-start.timestamp'), `${start}\n`);
      writeFileSync(join(storage, name, 'runner-installed.timestamp'), `${start + 10}\n`);
    };
    good('a-good', 1700000000);
    mkdirSync(join(storage, 'b-bad'));
    writeFileSync(join(storage, 'b-bad', 'runner-installed.timestamp'), 'yesterday');
    good('c-good', 1700000100);
    const notADir = join(base, 'regular-file');
    writeFileSync(notADir, 'not a directory');
    const r = await runCli(['run', 'github_runner'], {
      env: {
        INFLUXDB_HOSTNAME: '127.0.0.1',
        INFLUXDB_PORT: String(influx.port),
        INFLUXDB_DATABASE: 'r1b',
        INFLUX_MAX_RETRIES: '0',
        RUNNER_METRICS_STORAGE: storage,
        RUNNER_METRICS_QUARANTINE: join(notADir, 'quarantine'),
        RUNNER_METRICS_MIN_AGE: '0', // the folders were just created: no grace period
        RUNNER_FLAVOR: 'small',
        METRICS_LOG_PATH: join(base, 'metrics.log'),
      },
    });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /b-bad/, show(r));
    const rows = await influx.rows('SELECT * FROM runner_installed', 'r1b', { epoch: 's' });
    assert.deepEqual(
      rows.map((x) => [x.time, x.flavor, x.duration]),
      [
        [1700000010, 'small', 10],
        [1700000110, 'small', 10],
      ],
      `runner_installed rows: ${JSON.stringify(rows)}\n${show(r)}`,
    );
    // the extracted folders are gone, the failed one is left in place
    assert.deepEqual(readdirSync(storage).sort(), ['b-bad'], show(r));
  });
});
