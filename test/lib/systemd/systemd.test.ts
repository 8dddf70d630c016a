/**
 * systemd units: `systemd-analyze verify` and `security --offline=true` on what we generate,
 * install/uninstall against a fake systemctl that records its arguments, and the generator mode
 * on a temporary collectors directory (a new folder gets its timer; a broken one is skipped).
 * Then `bin/metrics systemd install` and `systemd generator` as a user runs them: a collector that
 * is broken keeps its timer (it is not gone); a gone one, or one in METRICS_DISABLE (also from
 * the generator's environment file), loses it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import type { DiscoveredCollector } from '../../../src/lib/run/discovery.js';
import { runGenerator } from '../../../src/lib/systemd/generator.js';
import { installGenerator, installUnits, uninstallGenerator, uninstallUnits } from '../../../src/lib/systemd/install.js';
import type { UnitOptions } from '../../../src/lib/systemd/options.js';
import { MARKER, generateUnits } from '../../../src/lib/systemd/units.js';
import { repoRoot, requireBinary, runCli, type CliResult } from '../../helpers/servers.js';

const tmpDirs: string[] = [];
function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `metrics-systemd-${prefix}-`));
  tmpDirs.push(dir);
  return dir;
}
after(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

const collector = (name: string, runInterval: string, error?: string): DiscoveredCollector => ({
  name,
  dir: `/nonexistent/${name}`,
  runInterval,
  ...(error ? { error } : {}),
});

const COLLECTORS = [
  collector('system', '1h30m'),
  collector('disk', '*/15 * * * *'),
  collector('report', '0 6 1 * mon-fri'),
  collector('daily', '@daily'),
  collector('fast', '1.5s'),
  collector('broken', '5m', 'collector "broken" failed to load: boom'),
  collector('badinterval', 'every five minutes'),
];

const BASE_OPTIONS: UnitOptions = { node: process.execPath, repo: repoRoot, credentialsDir: '' };

function write(dir: string, files: Map<string, string>): string[] {
  mkdirSync(dir, { recursive: true });
  return [...files].map(([name, content]) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  });
}

/** `systemd-analyze verify` must succeed and print nothing (warnings count as failures). */
function verify(analyze: string, files: string[]): void {
  const r = spawnSync(analyze, ['verify', ...files], { encoding: 'utf8' });
  assert.equal(r.status, 0, `systemd-analyze verify ${files.join(' ')}:\n${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `systemd-analyze verify warned:\n${r.stderr}`);
}

function exposure(analyze: string, file: string): number {
  const r = spawnSync(analyze, ['security', '--offline=true', file], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout);
  assert.ok(m, `no exposure level in:\n${r.stdout}\n${r.stderr}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------
// Generation

test('generateUnits: one template service, one timer per valid collector, broken ones skipped', () => {
  const gen = generateUnits(COLLECTORS, BASE_OPTIONS);
  assert.deepEqual([...gen.files.keys()].sort(), [
    'metrics@.service',
    'metrics@daily.timer',
    'metrics@disk.timer',
    'metrics@fast.timer',
    'metrics@report.timer',
    'metrics@system.timer',
  ]);
  assert.deepEqual(
    gen.skipped.map((s) => s.name),
    ['broken', 'badinterval'],
  );
  assert.match(gen.skipped[1]!.error, /collector "badinterval": RUN_INTERVAL "every five minutes" is not valid/);
  for (const content of gen.files.values()) assert.equal(content.split('\n')[0], MARKER);

  const service = gen.files.get('metrics@.service')!;
  assert.ok(service.includes(`ExecStart=${process.execPath} ${repoRoot}/bin/metrics run %i\n`), service);
  for (const line of [
    'Type=exec',
    'SuccessExitStatus=4',
    'RuntimeMaxSec=15min',
    'DynamicUser=yes',
    'User=metrics',
    'StateDirectory=metrics',
    'EnvironmentFile=-/etc/metrics/env',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'SystemCallFilter=@system-service',
    'SystemCallErrorNumber=EPERM',
    'ProtectSystem=strict',
    'NoNewPrivileges=yes',
  ]) {
    assert.ok(service.split('\n').includes(line), `service lacks ${line}`);
  }
  assert.ok(!/^MemoryDenyWriteExecute=/m.test(service), 'MemoryDenyWriteExecute breaks V8');
  assert.match(service, /# .*MemoryDenyWriteExecute=yes: breaks Node\.js/);

  const system = gen.files.get('metrics@system.timer')!;
  assert.match(system, /^OnBootSec=1min$/m);
  assert.match(system, /^OnUnitInactiveSec=1h 30min$/m);
  assert.match(system, /^Unit=metrics@system\.service$/m);
  assert.match(system, /^WantedBy=timers\.target$/m);
  assert.doesNotMatch(system, /OnCalendar|Persistent/);
  assert.match(gen.files.get('metrics@fast.timer')!, /^OnUnitInactiveSec=1\.500000s$/m);

  const report = gen.files.get('metrics@report.timer')!;
  assert.deepEqual(report.match(/^OnCalendar=.*$/gm), ['OnCalendar=Mon..Fri *-*-* 06:00:00 UTC', 'OnCalendar=*-*-01 06:00:00 UTC']);
  assert.match(report, /^Persistent=true$/m);
  assert.doesNotMatch(report, /OnUnitInactiveSec|OnBootSec/);
  assert.deepEqual(gen.files.get('metrics@disk.timer')!.match(/^OnCalendar=.*$/gm), ['OnCalendar=*-*-* *:00..45/15:00 UTC']);
});

test('generateUnits: options (prefix, jitter, user, credentials, limits) and their validation', () => {
  const credentialsDir = tmp('creds');
  writeFileSync(join(credentialsDir, 'INFLUX_TOKEN'), 'secret');
  mkdirSync(join(credentialsDir, 'not-a-file'));
  const gen = generateUnits([collector('system', '5m')], {
    ...BASE_OPTIONS,
    prefix: 'acme',
    runtimeMaxSec: '90s',
    randomizedDelaySec: '30s',
    fixedRandomDelay: true,
    user: 'collector',
    environmentFile: '/etc/acme/env',
    credentials: [{ name: 'INFLUXDB_PASSWORD', path: '/etc/acme/password' }],
    credentialsDir,
    ipAddressAllow: ['10.0.0.0/8', 'localhost'],
    extraService: ['MemoryMax=512M'],
  });
  const service = gen.files.get('acme@.service')!;
  const timer = gen.files.get('acme@system.timer')!;
  assert.match(service, /^RuntimeMaxSec=1min 30s$/m);
  assert.match(service, /^User=collector$/m);
  assert.doesNotMatch(service, /DynamicUser/);
  assert.match(service, /^StateDirectory=acme$/m);
  assert.match(service, /^EnvironmentFile=-\/etc\/acme\/env$/m);
  assert.match(service, /^LoadCredential=INFLUXDB_PASSWORD:\/etc\/acme\/password$/m);
  assert.ok(service.includes(`LoadCredential=INFLUX_TOKEN:${join(credentialsDir, 'INFLUX_TOKEN')}\n`));
  assert.doesNotMatch(service, /not-a-file/);
  assert.match(service, /^IPAddressDeny=any$/m);
  assert.match(service, /^IPAddressAllow=10\.0\.0\.0\/8 localhost$/m);
  assert.match(service, /^MemoryMax=512M$/m);
  assert.match(timer, /^RandomizedDelaySec=30s$/m);
  assert.match(timer, /^FixedRandomDelay=yes$/m);
  assert.match(timer, /^Unit=acme@system\.service$/m);

  const bad: Array<[UnitOptions, RegExp]> = [
    [{ prefix: 'a b' }, /--prefix/],
    [{ node: 'node' }, /--node must be an absolute path/],
    [{ runtimeMaxSec: 'soon' }, /--runtime-max-sec "soon" is not a systemd time span/],
    [{ randomizedDelaySec: '1x' }, /--randomized-delay-sec/],
    [{ user: 'bad user' }, /--user/],
    [{ user: 'nobody' }, /not safe/],
    [{ environmentFile: '/etc/x\nExecStartPre=/bin/evil' }, /control character/],
    [{ credentials: [{ name: 'A:B', path: '/x' }] }, /credential name/],
    [{ extraService: ['not a setting'] }, /Key=Value/],
  ];
  for (const [opts, message] of bad) assert.throws(() => generateUnits([], { ...BASE_OPTIONS, ...opts }), message);
});

test('generateUnits: code under /home gets ProtectHome=read-only, with a warning', () => {
  const gen = generateUnits([], { ...BASE_OPTIONS, repo: '/home/ops/metrics' });
  assert.match(gen.files.get('metrics@.service')!, /^ProtectHome=read-only$/m);
  assert.match(gen.warnings.join('\n'), /ProtectHome=read-only/);
  assert.match(generateUnits([], BASE_OPTIONS).files.get('metrics@.service')!, /^ProtectHome=yes$/m);
});

test('generated units pass systemd-analyze verify', (t) => {
  const analyze = requireBinary('systemd-analyze', t);
  if (!analyze) return;
  const dir = tmp('verify');
  const files = write(dir, generateUnits(COLLECTORS, BASE_OPTIONS).files);
  for (const f of files) verify(analyze, [f]);
  verify(analyze, files); // together: the timers' Unit= resolve to the template
  const dir2 = tmp('verify-opts');
  const files2 = write(
    dir2,
    generateUnits([collector('system', '5m'), collector('report', '0 6 1 * mon-fri')], {
      ...BASE_OPTIONS,
      prefix: 'acme',
      user: 'collector',
      randomizedDelaySec: '30s',
      fixedRandomDelay: true,
      credentials: [{ name: 'INFLUX_TOKEN', path: '/etc/acme/token' }],
      ipAddressAllow: ['10.0.0.0/8'],
      runtimeMaxSec: 'infinity',
    }).files,
  );
  verify(analyze, files2);
});

test('the service scores at most 1.5 in systemd-analyze security --offline=true', (t) => {
  const analyze = requireBinary('systemd-analyze', t);
  if (!analyze) return;
  const variants: Array<[string, UnitOptions]> = [
    ['default (DynamicUser)', {}],
    ['static user, credentials', { user: 'collector', credentials: [{ name: 'INFLUX_TOKEN', path: '/etc/metrics/token' }] }],
    ['code under /home (ProtectHome=read-only)', { repo: '/home/ops/metrics' }],
    ['ProcSubset=pid, IP allow list', { procSubset: 'pid', ipAddressAllow: ['10.0.0.0/8'] }],
  ];
  const scores: string[] = [];
  for (const [label, opts] of variants) {
    const dir = tmp('security');
    write(dir, generateUnits([], { ...BASE_OPTIONS, ...opts }).files);
    const score = exposure(analyze, join(dir, 'metrics@.service'));
    scores.push(`${label}: ${score}`);
    assert.ok(score <= 1.5, `${label}: exposure ${score} > 1.5`);
  }
  t.diagnostic(`exposure levels: ${scores.join('; ')}`);
});

// ---------------------------------------------------------------------------------------------
// install / uninstall with a fake systemctl

function fakeSystemctl(dir: string, failOn?: string): { path: string; calls: () => string[] } {
  const log = join(dir, 'systemctl.log');
  const path = join(dir, 'systemctl');
  writeFileSync(
    path,
    `#!/bin/sh\nprintf '%s\\n' "$*" >> ` +
      `'${log}'\n${failOn ? `case "$1" in ${failOn}) echo "Failed to ${failOn}: Access denied" >&2; exit 1;; esac\n` : ''}exit 0\n`,
  );
  chmodSync(path, 0o755);
  return { path, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []) };
}

test('installUnits: writes, enables, removes vanished collectors, leaves foreign files alone', async () => {
  const dir = tmp('install');
  const unitDir = join(dir, 'units');
  const systemctl = fakeSystemctl(dir);
  const lines: string[] = [];
  const out = (l: string) => lines.push(l);

  // a dry run changes nothing and runs nothing
  const plan = await installUnits({ ...BASE_OPTIONS, collectors: COLLECTORS, unitDir, systemctl: systemctl.path, dryRun: true, out });
  assert.equal(existsSync(unitDir), false);
  assert.deepEqual(systemctl.calls(), []);
  assert.ok(
    lines.some((l) => l.startsWith(`would write ${unitDir}/metrics@.service`)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l === `would run: ${systemctl.path} daemon-reload`),
    lines.join('\n'),
  );
  assert.ok(lines.some((l) => /^skip badinterval: /.test(l)));
  assert.deepEqual(plan.commands, [
    ['daemon-reload'],
    ['enable', '--now', 'metrics@daily.timer', 'metrics@disk.timer', 'metrics@fast.timer', 'metrics@report.timer', 'metrics@system.timer'],
  ]);

  // the real thing
  const first = await installUnits({ ...BASE_OPTIONS, collectors: COLLECTORS, unitDir, systemctl: systemctl.path, out });
  assert.deepEqual(readdirSync(unitDir).sort(), [
    'metrics@.service',
    'metrics@daily.timer',
    'metrics@disk.timer',
    'metrics@fast.timer',
    'metrics@report.timer',
    'metrics@system.timer',
  ]);
  assert.equal(first.written.length, 6);
  assert.deepEqual(systemctl.calls(), [
    'daemon-reload',
    'enable --now metrics@daily.timer metrics@disk.timer metrics@fast.timer metrics@report.timer metrics@system.timer',
  ]);
  assert.deepEqual(
    first.skipped.map((s) => s.name),
    ['broken', 'badinterval'],
  );

  // a foreign unit with our prefix, and an admin's file: never touched
  writeFileSync(join(unitDir, 'metrics@custom.timer'), '[Timer]\nOnCalendar=daily\n');
  writeFileSync(join(unitDir, 'other.service'), '[Service]\nExecStart=/bin/true\n');

  // "daily" and "fast" vanish, "new" appears
  const now = [
    collector('system', '1h30m'),
    collector('disk', '*/15 * * * *'),
    collector('report', '0 6 1 * mon-fri'),
    collector('new', '10min'),
  ];
  const second = await installUnits({ ...BASE_OPTIONS, collectors: now, unitDir, systemctl: systemctl.path, out });
  assert.deepEqual(second.removed, ['metrics@daily.timer', 'metrics@fast.timer']);
  assert.deepEqual(second.written, ['metrics@new.timer']);
  assert.deepEqual(second.unchanged.sort(), ['metrics@.service', 'metrics@disk.timer', 'metrics@report.timer', 'metrics@system.timer']);
  assert.deepEqual(readdirSync(unitDir).sort(), [
    'metrics@.service',
    'metrics@custom.timer',
    'metrics@disk.timer',
    'metrics@new.timer',
    'metrics@report.timer',
    'metrics@system.timer',
    'other.service',
  ]);
  assert.deepEqual(systemctl.calls().slice(2), [
    'disable --now metrics@daily.timer metrics@fast.timer',
    'daemon-reload',
    'enable --now metrics@disk.timer metrics@new.timer metrics@report.timer metrics@system.timer',
  ]);

  // a foreign file where ours should go: refused unless --force
  writeFileSync(join(unitDir, 'metrics@disk.timer'), '[Timer]\nOnCalendar=hourly\n');
  await assert.rejects(
    installUnits({ ...BASE_OPTIONS, collectors: now, unitDir, systemctl: systemctl.path, out }),
    /metrics@disk\.timer exists and was not generated by metrics.*--force/,
  );
  await installUnits({ ...BASE_OPTIONS, collectors: now, unitDir, systemctl: systemctl.path, out, force: true });
  assert.equal(readFileSync(join(unitDir, 'metrics@disk.timer'), 'utf8').split('\n')[0], MARKER);

  // uninstall: a dry run, then for real; foreign files stay
  const before = systemctl.calls().length;
  await uninstallUnits({ unitDir, systemctl: systemctl.path, dryRun: true, out });
  assert.equal(systemctl.calls().length, before);
  assert.ok(existsSync(join(unitDir, 'metrics@.service')));
  const removed = await uninstallUnits({ unitDir, systemctl: systemctl.path, out });
  assert.deepEqual(removed.removed, [
    'metrics@.service',
    'metrics@disk.timer',
    'metrics@new.timer',
    'metrics@report.timer',
    'metrics@system.timer',
  ]);
  assert.deepEqual(readdirSync(unitDir).sort(), ['metrics@custom.timer', 'other.service']);
  assert.deepEqual(systemctl.calls().slice(before), [
    'disable --now metrics@disk.timer metrics@new.timer metrics@report.timer metrics@system.timer',
    'daemon-reload',
  ]);
});

test('installUnits: a failing systemctl is reported with its message', async () => {
  const dir = tmp('install-fail');
  const systemctl = fakeSystemctl(dir, 'daemon-reload');
  await assert.rejects(
    installUnits({
      ...BASE_OPTIONS,
      collectors: [collector('system', '5m')],
      unitDir: join(dir, 'units'),
      systemctl: systemctl.path,
      out: () => {},
    }),
    /systemctl daemon-reload failed \(exit 1\): Failed to daemon-reload: Access denied/,
  );
  await assert.rejects(
    installUnits({
      ...BASE_OPTIONS,
      collectors: [],
      unitDir: join(dir, 'units2'),
      systemctl: join(dir, 'no-such-systemctl'),
      out: () => {},
    }),
    /not found.*metrics daemon/,
  );
});

test('install --generator writes an executable generator script, uninstall removes it', async () => {
  const dir = tmp('gen-install');
  const systemctl = fakeSystemctl(dir);
  const generatorDir = join(dir, 'system-generators');
  const { path } = await installGenerator({
    ...BASE_OPTIONS,
    credentialsDir: undefined,
    generatorDir,
    systemctl: systemctl.path,
    randomizedDelaySec: '10s',
    out: () => {},
  });
  const script = readFileSync(path, 'utf8');
  assert.equal(path, join(generatorDir, 'metrics-generator'));
  assert.match(script, /^#!\/bin\/sh\n/);
  assert.ok(script.includes(`exec '${process.execPath}' '${repoRoot}/dist/src/lib/systemd/generator.js' 'generator'`), script);
  assert.ok(script.includes(`'--randomized-delay-sec' '10s'`), script);
  assert.ok(script.trimEnd().endsWith('"$@"'));
  assert.deepEqual(systemctl.calls(), ['daemon-reload']);
  await uninstallGenerator({ generatorDir, systemctl: systemctl.path, out: () => {} });
  assert.equal(existsSync(path), false);
});

// ---------------------------------------------------------------------------------------------
// Generator mode

function collectorFolder(root: string, name: string, body: string): void {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, 'index.js'), body);
}
const good = (interval: string) =>
  `export const RUN_INTERVAL = ${JSON.stringify(interval)};\nexport async function runMetric() { return 0; }\n`;

test('generator: a new collector folder gets its timer with no other step; a broken one is skipped, exit 0', async (t) => {
  const dir = tmp('generator');
  const collectors = join(dir, 'collectors');
  collectorFolder(collectors, 'alpha', good('5m'));
  collectorFolder(collectors, 'beta', good('*/10 * * * *'));
  collectorFolder(collectors, 'broken', "throw new Error('cannot load me');\n");
  collectorFolder(collectors, 'nometric', 'export const RUN_INTERVAL = "5m";\n');
  collectorFolder(collectors, 'badint', good('every now and then'));
  // what systemd executes: the script that `metrics systemd install --generator` writes
  const systemctl = fakeSystemctl(dir);
  const { path: generator } = await installGenerator({
    ...BASE_OPTIONS,
    collectorsDir: collectors,
    generatorDir: join(dir, 'system-generators'),
    systemctl: systemctl.path,
    out: () => {},
  });
  const env = { ...process.env, SYSTEMD_SCOPE: '' };
  let n = 0;
  const run = (argv: string[]) => {
    n++;
    const out = [join(dir, `normal${n}`), join(dir, `early${n}`), join(dir, `late${n}`)];
    for (const d of out) mkdirSync(d, { recursive: true });
    const started = Date.now();
    const r = spawnSync(argv[0]!, [...argv.slice(1), ...out], { encoding: 'utf8', env });
    return { ...r, normal: out[0]!, ms: Date.now() - started };
  };

  const first = run([generator]);
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(readdirSync(first.normal).sort(), [
    'metrics@.service',
    'metrics@alpha.timer',
    'metrics@beta.timer',
    'timers.target.wants',
  ]);
  assert.deepEqual(readdirSync(join(first.normal, 'timers.target.wants')).sort(), ['metrics@alpha.timer', 'metrics@beta.timer']);
  assert.equal(readlinkSync(join(first.normal, 'timers.target.wants', 'metrics@alpha.timer')), join(first.normal, 'metrics@alpha.timer'));
  assert.match(first.stderr, /collector broken skipped: .*cannot load me/);
  assert.match(first.stderr, /collector nometric skipped: .*runMetric/);
  assert.match(first.stderr, /collector badint skipped: collector "badint": RUN_INTERVAL "every now and then" is not valid/);
  assert.ok(readFileSync(join(first.normal, 'metrics@.service'), 'utf8').includes(`METRICS_COLLECTORS_DIR=${collectors}`));

  // add a folder: the next generator run (at boot, at daemon-reload) emits its timer
  collectorFolder(collectors, 'gamma', good('1h'));
  const second = run([generator]);
  assert.equal(second.status, 0, second.stderr);
  assert.ok(existsSync(join(second.normal, 'metrics@gamma.timer')));
  assert.ok(existsSync(join(second.normal, 'timers.target.wants', 'metrics@gamma.timer')));
  assert.match(readFileSync(join(second.normal, 'metrics@gamma.timer'), 'utf8'), /^OnUnitInactiveSec=1h$/m);
  assert.ok(second.ms < 5000, `generator took ${second.ms} ms`);

  // the same through the command line: metrics systemd generator
  const viaCli = run([process.execPath, join(repoRoot, 'bin', 'metrics'), 'systemd', 'generator', '--collectors-dir', collectors]);
  assert.equal(viaCli.status, 0, viaCli.stderr);
  assert.deepEqual(readdirSync(viaCli.normal).sort(), readdirSync(second.normal).sort());
  t.diagnostic(`generator script: ${first.ms} ms, ${second.ms} ms; metrics systemd generator: ${viaCli.ms} ms (node start-up included)`);

  const analyze = requireBinary('systemd-analyze', t);
  if (analyze)
    verify(
      analyze,
      readdirSync(second.normal)
        .filter((f) => f.includes('@'))
        .map((f) => join(second.normal, f)),
    );
});

test('generator never fails hard', async () => {
  const logged: string[] = [];
  const log = {
    info: (m: string) => logged.push(`info: ${m}`),
    warn: (m: string) => logged.push(`warn: ${m}`),
    error: (m: string) => logged.push(`error: ${m}`),
  };
  assert.equal(await runGenerator([], { log }), 0);
  assert.match(logged.join('\n'), /expected the generator output directories/);
  assert.equal(await runGenerator(['relative/dir'], { log }), 0);
  const dir = tmp('generator-bad');
  assert.equal(await runGenerator([dir], { ...BASE_OPTIONS, runtimeMaxSec: 'bogus', collectors: [collector('a', '5m')], log }), 0);
  assert.match(logged.join('\n'), /cannot generate the units: --runtime-max-sec "bogus"/);
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  assert.equal(await runGenerator([file], { ...BASE_OPTIONS, collectors: [collector('a', '5m')], log }), 0);
  assert.match(logged.join('\n'), /unexpected failure|cannot/);
});

// ---------------------------------------------------------------------------------------------
// As a user runs them: `bin/metrics systemd install` and `systemd generator`

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

test('systemd install keeps the timer of a broken collector, removes it when gone or disabled (also in generator mode)', async () => {
  const base = tmp('install-broken');
  const cdir = join(repoRoot, 'dist', 'src', `collectors-systemd-${randomBytes(6).toString('hex')}`);
  const index = (interval: string): string =>
    `export const RUN_INTERVAL = ${JSON.stringify(interval)};\nexport async function runMetric() { throw new Error('not for running'); }\n`;
  try {
    mkdirSync(join(cdir, 'a'), { recursive: true });
    mkdirSync(join(cdir, 'b'), { recursive: true });
    writeFileSync(join(cdir, 'a', 'index.js'), index('5m'));
    writeFileSync(join(cdir, 'b', 'index.js'), index('10m'));
    const unitDir = join(base, 'units');
    const calls = join(base, 'systemctl.log');
    const systemctl = join(base, 'systemctl');
    writeFileSync(systemctl, `#!/bin/sh\necho "$*" >> '${calls}'\n`);
    chmodSync(systemctl, 0o755);
    const readCalls = (): string[] => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : []);
    const install = (env: Record<string, string> = {}): Promise<CliResult> =>
      runCli(
        [
          'systemd',
          'install',
          '--unit-dir',
          unitDir,
          '--systemctl',
          systemctl,
          '--collectors-dir',
          cdir,
          '--credentials-dir',
          '',
          '--environment-file',
          '',
        ],
        { env },
      );

    const r1 = await install();
    assert.equal(r1.code, 0, show(r1));
    assert.ok(existsSync(join(unitDir, 'metrics@a.timer')), show(r1));
    assert.ok(existsSync(join(unitDir, 'metrics@b.timer')), show(r1));

    // b is broken now (invalid RUN_INTERVAL): its timer stays, it is not disabled
    writeFileSync(join(cdir, 'b', 'index.js'), index('every blue moon'));
    const n1 = readCalls().length;
    const r2 = await install();
    assert.ok(existsSync(join(unitDir, 'metrics@b.timer')), `metrics@b.timer was removed for a broken collector\n${show(r2)}`);
    const disables2 = readCalls()
      .slice(n1)
      .filter((c) => c.startsWith('disable') && c.includes('metrics@b.timer'));
    assert.deepEqual(disables2, [], show(r2));
    assert.match(r2.stdout + r2.stderr, /\bb\b.*(RUN_INTERVAL|every blue moon)/, show(r2));

    // b is gone: its timer goes
    rmSync(join(cdir, 'b'), { recursive: true });
    const n2 = readCalls().length;
    const r3 = await install();
    assert.equal(r3.code, 0, show(r3));
    assert.ok(!existsSync(join(unitDir, 'metrics@b.timer')), show(r3));
    assert.ok(existsSync(join(unitDir, 'metrics@a.timer')), show(r3));
    assert.ok(
      readCalls()
        .slice(n2)
        .some((c) => c.startsWith('disable') && c.includes('metrics@b.timer')),
      readCalls().join('\n'),
    );

    // b back; then METRICS_DISABLE=b removes its timer
    mkdirSync(join(cdir, 'b'));
    writeFileSync(join(cdir, 'b', 'index.js'), index('10m'));
    const r4 = await install();
    assert.equal(r4.code, 0, show(r4));
    assert.ok(existsSync(join(unitDir, 'metrics@b.timer')), show(r4));
    const r5 = await install({ METRICS_DISABLE: 'b' });
    assert.equal(r5.code, 0, show(r5));
    assert.ok(!existsSync(join(unitDir, 'metrics@b.timer')), `METRICS_DISABLE=b left metrics@b.timer\n${show(r5)}`);
    assert.ok(existsSync(join(unitDir, 'metrics@a.timer')), show(r5));

    // generator mode: METRICS_DISABLE from the environment file
    const envFile = join(base, 'env');
    writeFileSync(envFile, '# metrics\nMETRICS_DISABLE=b\n');
    const [d1, d2, d3] = ['normal', 'early', 'late'].map((d) => join(base, 'gen', d)) as [string, string, string];
    const g = await runCli([
      'systemd',
      'generator',
      d1,
      d2,
      d3,
      '--environment-file',
      envFile,
      '--collectors-dir',
      cdir,
      '--credentials-dir',
      '',
    ]);
    assert.equal(g.code, 0, show(g));
    assert.ok(existsSync(join(d1, 'metrics@a.timer')), `${show(g)}\n${existsSync(d1) ? readdirSync(d1).join(', ') : '(no dir)'}`);
    assert.ok(!existsSync(join(d1, 'metrics@b.timer')), `generator wrote a timer for disabled b\n${show(g)}`);
    assert.ok(!existsSync(join(d1, 'timers.target.wants', 'metrics@b.timer')), show(g));
    // control: without the file's METRICS_DISABLE, b gets its timer
    const g2dir = join(base, 'gen2');
    const g2 = await runCli([
      'systemd',
      'generator',
      g2dir,
      '--environment-file',
      join(base, 'no-such-env'),
      '--collectors-dir',
      cdir,
      '--credentials-dir',
      '',
    ]);
    assert.ok(existsSync(join(g2dir, 'metrics@b.timer')), show(g2));
  } finally {
    rmSync(cdir, { recursive: true, force: true });
  }
});
