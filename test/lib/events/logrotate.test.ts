/**
 * logrotate for the metrics log, checked with the real logrotate (Debian package `logrotate`):
 * the generated configuration is accepted, and a forced rotation while a writer keeps issuing
 * events loses no line. Installation with a fake systemctl.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LogrotateSetupError, installLogrotate, logrotateConfig } from '../../../src/lib/events/logrotate.js';
import { requireBinary, runCli } from '../../helpers/servers.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function exec(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function countLines(path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').length - 1;
  } catch {
    return 0;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A process that issues events through the library (open+append+close each) until SIGTERM. */
async function startWriter(dir: string, logPath: string, id: string): Promise<{ child: ChildProcess; stop: () => Promise<number> }> {
  const script = join(dir, `writer-${id}.mjs`);
  const sinksUrl = new URL('../../../src/lib/events/sinks.js', import.meta.url).href;
  const settingsUrl = new URL('../../../src/lib/platform/settings.js', import.meta.url).href;
  const catalogUrl = new URL('../../../src/collectors/github_runner/events.js', import.meta.url).href;
  await writeFile(
    script,
    `import { createEventSinks } from ${JSON.stringify(sinksUrl)};
import { loadSettings } from ${JSON.stringify(settingsUrl)};
import { RunnerInstalled } from ${JSON.stringify(catalogUrl)};
let stop = false;
process.on('SIGTERM', () => { stop = true; });
const sinks = createEventSinks({ settings: loadSettings({ METRICS_LOG_PATH: ${JSON.stringify(logPath)} }) });
let i = 0;
while (!stop) {
  await sinks.issue(new RunnerInstalled({ flavor: ${JSON.stringify(id)}, duration: i }));
  i++;
}
process.stdout.write(String(i));
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, `writer ${id} exited with ${code}`);
      return Number(out);
    },
  };
}

/** Every line of every file, parsed; asserts each is one whole JSON event. */
async function readEvents(files: string[]): Promise<{ file: string; flavor: string; duration: number }[]> {
  const out: { file: string; flavor: string; duration: number }[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    if (text === '') continue;
    assert.ok(text.endsWith('\n'), `${file} ends with a whole line`);
    for (const line of text.slice(0, -1).split('\n')) {
      const e = JSON.parse(line) as { event: string; flavor: string; duration: number; timestamp: number };
      assert.equal(e.event, 'runner_installed');
      assert.equal(typeof e.timestamp, 'number');
      out.push({ file, flavor: e.flavor, duration: e.duration });
    }
  }
  return out;
}

function assertExactlyOnce(events: { flavor: string; duration: number }[], issued: Record<string, number>): void {
  const seen = new Map<string, number>();
  for (const e of events) {
    const k = `${e.flavor}/${e.duration}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  for (const [k, n] of seen) assert.equal(n, 1, `event ${k} is in ${n} places`);
  let total = 0;
  for (const [flavor, n] of Object.entries(issued)) {
    total += n;
    for (let i = 0; i < n; i++) assert.ok(seen.has(`${flavor}/${i}`), `event ${flavor}/${i} was issued but is in no file`);
  }
  assert.equal(events.length, total, 'no event that was not issued');
}

describe('logrotate configuration with the real logrotate', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'logrotate-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the configuration text', () => {
    const text = logrotateConfig({ logPath: '/var/log/metrics events.log' });
    assert.match(text, /^"\/var\/log\/metrics events\.log" \{$/m);
    for (const line of ['rotate 0', 'daily', 'missingok', 'notifempty', 'nocreate', 'nocopytruncate'])
      assert.match(text, new RegExp(`^    ${line}$`, 'm'));
    assert.doesNotMatch(text, /^\s*copytruncate/m);
    assert.match(
      logrotateConfig({ logPath: '/x.log', rotate: 3, frequency: 'weekly', maxSize: '100M' }),
      /weekly\n {4}maxsize 100M\n {4}rotate 3\n/,
    );
    assert.throws(() => logrotateConfig({ logPath: 'relative.log' }), /absolute/);
    assert.throws(() => logrotateConfig({ logPath: '/a/"b' }), /quotes or globs/);
    assert.throws(() => logrotateConfig({ logPath: '/a/*.log' }), /quotes or globs/);
    assert.throws(() => logrotateConfig({ logPath: '/a.log', rotate: -1 }), /rotate/);
    assert.throws(() => logrotateConfig({ logPath: '/a.log', maxSize: '1 TB' }), /maxsize/);
  });

  test('logrotate -d accepts the generated configuration', async (t) => {
    const logrotate = requireBinary('logrotate', t);
    if (!logrotate) return;
    for (const rotate of [0, 1]) {
      const conf = join(dir, `debug-${rotate}.conf`);
      const log = join(dir, `debug-${rotate} log.log`);
      await writeFile(log, '{"event":"x"}\n');
      await writeFile(conf, logrotateConfig({ logPath: log, rotate }), { mode: 0o644 });
      const r = await exec(logrotate, ['-d', '-s', join(dir, `debug-${rotate}.state`), conf]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr + r.stdout, /error/i);
      assert.match(r.stderr + r.stdout, new RegExp(`rotating pattern: "?${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
  });

  test('a forced rotation while a writer keeps issuing events loses no line (rotate 1)', async (t) => {
    const logrotate = requireBinary('logrotate', t);
    if (!logrotate) return;
    const sub = await mkdtemp(join(dir, 'rot1-'));
    const log = join(sub, 'metrics.log');
    const conf = join(sub, 'metrics.conf');
    await writeFile(conf, logrotateConfig({ logPath: log, rotate: 1 }), { mode: 0o644 });
    const writer = await startWriter(sub, log, 'lib');
    let issued: number;
    try {
      await waitFor('events before the rotation', async () => (await countLines(log)) >= 300);
      const r = await exec(logrotate, ['-f', '-v', '-s', join(sub, 'state'), conf]);
      assert.equal(r.code, 0, r.stderr);
      await waitFor('events after the rotation', async () => (await countLines(log)) >= 300);
    } finally {
      issued = await writer.stop();
    }
    const files = (await readdir(sub)).filter((f) => f.startsWith('metrics.log')).sort();
    assert.deepEqual(files, ['metrics.log', 'metrics.log.1']);
    const events = await readEvents([join(sub, 'metrics.log.1'), log]);
    assertExactlyOnce(events, { lib: issued });
    // one writer, in order: the rotated file holds a prefix, the new file the rest
    const firstNew = events.findIndex((e) => e.file === log);
    assert.ok(firstNew > 0);
    events.forEach((e, i) => {
      assert.equal(e.duration, i);
    });
    assert.equal((await stat(log)).mode & 0o777 & ~0o640, 0, 'the writer created the new file with mode 0640');
  });

  test('five rotations under three writers: every event in exactly one file', async (t) => {
    const logrotate = requireBinary('logrotate', t);
    if (!logrotate) return;
    const sub = await mkdtemp(join(dir, 'rot5-'));
    const log = join(sub, 'metrics.log');
    const conf = join(sub, 'metrics.conf');
    await writeFile(conf, logrotateConfig({ logPath: log, rotate: 10 }), { mode: 0o644 });
    const writers = await Promise.all(['a', 'b', 'c'].map((id) => startWriter(sub, log, id)));
    const issued: Record<string, number> = {};
    try {
      for (let i = 0; i < 5; i++) {
        await waitFor('events', async () => (await countLines(log)) >= 100);
        const r = await exec(logrotate, ['-f', '-s', join(sub, 'state'), conf]);
        assert.equal(r.code, 0, r.stderr);
      }
      await waitFor('events after the last rotation', async () => (await countLines(log)) >= 100);
    } finally {
      for (const [i, w] of writers.entries()) issued[['a', 'b', 'c'][i]!] = await w.stop();
    }
    const files = (await readdir(sub)).filter((f) => f.startsWith('metrics.log'));
    assert.equal(files.length, 6, files.join(' '));
    assertExactlyOnce(await readEvents(files.map((f) => join(sub, f))), issued);
  });
});

describe('installLogrotate', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'logrotate-install-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fakeSystemctl(name: string, body: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  test('writes the configuration (0644) and runs systemctl enable --now logrotate.timer', async (t) => {
    const configDir = await mkdtemp(join(dir, 'conf-'));
    const calls = join(dir, 'calls');
    const systemctl = await fakeSystemctl('systemctl-ok', `echo "$@" >> ${calls}`);
    const logPath = join(dir, 'metrics.log');
    const { configPath, config } = await installLogrotate({ configDir, systemctl, logPath });
    assert.equal(configPath, join(configDir, 'metrics-events'));
    assert.equal(await readFile(configPath, 'utf8'), config);
    assert.equal(config, logrotateConfig({ logPath }));
    assert.match(config, /rotate 0/);
    assert.equal((await stat(configPath)).mode & 0o777, 0o644);
    assert.equal(await readFile(calls, 'utf8'), 'enable --now logrotate.timer\n');
    assert.deepEqual(await readdir(configDir), ['metrics-events'], 'no temporary file left');
    const logrotate = requireBinary('logrotate', t);
    if (logrotate) {
      const r = await exec(logrotate, ['-d', '-s', join(dir, 'state'), configPath]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test('systemctl failing: LogrotateSetupError with its message and exit status', async () => {
    const configDir = await mkdtemp(join(dir, 'conf-'));
    const systemctl = await fakeSystemctl(
      'systemctl-fail',
      'echo "Failed to enable unit: Unit file logrotate.timer does not exist." >&2\nexit 5',
    );
    await assert.rejects(installLogrotate({ configDir, systemctl, logPath: '/var/log/m.log' }), (e: Error) => {
      assert.ok(e instanceof LogrotateSetupError);
      assert.equal(e.exitStatus, 5);
      assert.equal(e.command, `${systemctl} enable --now logrotate.timer`);
      assert.match(e.message, /failed \(exit status 5\): Failed to enable unit: Unit file logrotate\.timer does not exist\./);
      assert.match(e.message, /was written; logrotate\.timer is not enabled/);
      return true;
    });
  });

  test('systemctl missing, config dir missing or not writable: LogrotateSetupError', async () => {
    const configDir = await mkdtemp(join(dir, 'conf-'));
    await assert.rejects(
      installLogrotate({ configDir, systemctl: join(dir, 'no-such-systemctl'), logPath: '/var/log/m.log' }),
      (e: Error) => e instanceof LogrotateSetupError && /not found/.test(e.message) && e.message.includes('no-such-systemctl'),
    );
    await assert.rejects(
      installLogrotate({ configDir: join(dir, 'nope'), systemctl: 'true', logPath: '/var/log/m.log' }),
      (e: Error) => e instanceof LogrotateSetupError && e.message.includes(join(dir, 'nope')) && /is logrotate installed/.test(e.message),
    );
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    await assert.rejects(installLogrotate({ configDir: file, systemctl: 'true', logPath: '/var/log/m.log' }), LogrotateSetupError);
    await assert.rejects(installLogrotate({ configDir, systemctl: 'true', logPath: 'relative' }), /absolute/);
  });

  test('bin/metrics logrotate install', async () => {
    const configDir = await mkdtemp(join(dir, 'cli-'));
    const calls = join(dir, 'cli-calls');
    const ok = await fakeSystemctl('systemctl-cli', `echo "$@" >> ${calls}`);
    const r = await runCli(['logrotate', 'install', '--config-dir', configDir, '--systemctl', ok, '--rotate', '2'], {
      env: { METRICS_LOG_PATH: join(dir, 'cli.log') },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /metrics-events/);
    const text = await readFile(join(configDir, 'metrics-events'), 'utf8');
    assert.ok(text.includes(`"${join(dir, 'cli.log')}" {`));
    assert.match(text, /rotate 2/);
    assert.equal(await readFile(calls, 'utf8'), 'enable --now logrotate.timer\n');

    const bad = await fakeSystemctl('systemctl-cli-bad', 'echo "Access denied" >&2; exit 1');
    const f = await runCli(['logrotate', 'install', '--config-dir', configDir, '--systemctl', bad, '--log-path', '/var/log/m.log']);
    assert.equal(f.code, 1);
    assert.match(f.stderr, /LogrotateSetupError: .*exit status 1\): Access denied/);

    const u = await runCli(['logrotate', 'install', '--config-dir', configDir, '--systemctl', ok]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--log-path|METRICS_LOG_PATH/);

    const h = await runCli(['logrotate', 'install', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--config-dir/);
    assert.match(h.stdout, /--systemctl/);
  });
});
