/**
 * `metrics new` (src/lib/cli/scaffold.ts, commands/new.ts), always into a temporary repository
 * (`root`), never into this checkout's src/: the generated collector and a copy of `system` are
 * compiled there with tsc (src/lib, test/helpers and node_modules linked from this checkout), their
 * generated tests pass, and `bin/<name> --dry-run` prints the example point. The refusals: invalid
 * names, the names of commands (from the registered commands), an existing folder, script or test
 * folder (nothing written at all), an unknown --from, an invalid --interval.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { COLLECTOR_BIN, EMPTY_RECORDING, checkNewName, pascalCase, scaffoldCollector } from '../../../src/lib/cli/scaffold.js';
import { commandNames } from '../../../src/lib/cli/yargs.js';
import { UsageError } from '../../../src/lib/platform/errors.js';
import { parseMeasurementTables } from '../../../src/lib/grafana/measurements.js';
import { cleanEnv, repoRoot, runCli } from '../../helpers/servers.js';

const temps: string[] = [];
after(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** An empty temporary repository. */
function emptyRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'scaffold-test-'));
  temps.push(root);
  return root;
}

/** A temporary repository that can compile and run collectors: this checkout's src/lib, test/helpers and node_modules, linked. */
function buildableRoot(): string {
  const root = emptyRoot();
  for (const dir of ['src/collectors', 'test', 'bin']) mkdirSync(join(root, dir), { recursive: true });
  symlinkSync(join(repoRoot, 'src', 'lib'), join(root, 'src', 'lib'));
  symlinkSync(join(repoRoot, 'test', 'helpers'), join(root, 'test', 'helpers'));
  symlinkSync(join(repoRoot, 'node_modules'), join(root, 'node_modules'));
  symlinkSync(join(repoRoot, 'src', 'collectors', 'system'), join(root, 'src', 'collectors', 'system'));
  // this checkout's compiler options; only the collectors, their tests, and the CLI that bin/<name> starts (with what they import)
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { include: string[] };
  tsconfig.include = ['src/collectors/**/*.ts', 'test/collectors/**/*.ts', 'src/lib/cli/main.ts'];
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify(tsconfig));
  writeFileSync(join(root, 'biome.json'), readFileSync(join(repoRoot, 'biome.json')));
  writeFileSync(join(root, 'package.json'), '{ "type": "module" }\n');
  return root;
}

/** Every file under `root` (links not followed), relative. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

const run = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: cleanEnv(), timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

describe('metrics new: generated, compiled and run in a temporary repository', () => {
  const root = buildableRoot();

  test('the example collector and a copy of system: files, tsc, their generated tests, bin/<name> --dry-run', async () => {
    const weather = await scaffoldCollector({ root, name: 'weather', reserved: commandNames() });
    assert.deepEqual(weather.files, [
      'src/collectors/weather/index.ts',
      'src/collectors/weather/weather.ts',
      'src/collectors/weather/README.md',
      'bin/weather',
      'test/collectors/weather/weather.test.ts',
      'test/collectors/weather/fixtures/requests.json',
    ]);
    assert.equal(statSync(join(root, 'bin', 'weather')).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(root, 'bin', 'weather'), 'utf8'), COLLECTOR_BIN);
    assert.equal(readFileSync(join(root, 'test/collectors/weather/fixtures/requests.json'), 'utf8'), EMPTY_RECORDING);
    const index = readFileSync(join(root, 'src/collectors/weather/index.ts'), 'utf8');
    assert.match(index, /^export const RUN_INTERVAL = '5m';$/m);
    assert.match(index, /new WeatherMetric\(options\)\.run\(\)/);
    // the README's table is the schema format the Grafana dashboard reads
    assert.deepEqual(parseMeasurementTables(readFileSync(join(root, 'src/collectors/weather/README.md'), 'utf8')), [
      {
        measurement: 'weather',
        tags: ['source'],
        fields: [
          { name: 'value', type: 'float' },
          { name: 'hour', type: 'integer' },
        ],
      },
    ]);

    const disk = await scaffoldCollector({ root, name: 'disk_usage', from: 'system', interval: '10min', reserved: commandNames() });
    assert.ok(disk.files.includes('src/collectors/disk_usage/disk_usage.ts'), disk.files.join(', '));
    const diskIndex = readFileSync(join(root, 'src/collectors/disk_usage/index.ts'), 'utf8');
    assert.match(diskIndex, /RUN_INTERVAL = '10min';/);
    assert.match(diskIndex, /const \{ DiskUsageMetric \} = await import\('\.\/disk_usage\.js'\);/);
    const diskSource = readFileSync(join(root, 'src/collectors/disk_usage/disk_usage.ts'), 'utf8');
    assert.match(diskSource, /export class DiskUsageMetric extends Metric/);
    assert.match(diskSource, /this\.env\.DISK_USAGE_MOUNTS/);
    assert.match(diskSource, /measurement: 'system_load'/, 'measurement names are kept');
    const diskReadme = readFileSync(join(root, 'src/collectors/disk_usage/README.md'), 'utf8');
    assert.match(diskReadme, /^# disk_usage\n/);
    assert.match(diskReadme, /`RUN_INTERVAL = '10min'`/);
    assert.ok(
      disk.next.some((n) => n.includes('measurement names were kept')),
      disk.next.join('\n'),
    );

    // the longest name: every generated line within 140 columns, formatted as Biome formats
    const longest = 'abcdefghijklmnopqrstuvwxyz_abcde';
    assert.equal(longest.length, 32);
    await scaffoldCollector({ root, name: longest, reserved: commandNames() });

    const generated = ['weather', 'disk_usage', longest].flatMap((n) => [`src/collectors/${n}`, `test/collectors/${n}`]);
    const biome = run(join(repoRoot, 'node_modules', '.bin', 'biome'), ['check', '--vcs-enabled=false', ...generated], root);
    assert.equal(biome.code, 0, `Biome on the generated files:\n${biome.out}`);
    for (const f of tree(root).filter((p) => p.endsWith('.ts') && generated.some((g) => p.startsWith(g)))) {
      const long = readFileSync(join(root, f), 'utf8')
        .split('\n')
        .filter((l) => l.length > 140);
      assert.deepEqual(long, [], f);
    }

    const tsc = run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], root);
    assert.equal(tsc.code, 0, tsc.out);
    for (const name of ['weather', 'disk_usage', longest]) {
      const t = run(process.execPath, ['--test', join('dist', 'test', 'collectors', name, `${name}.test.js`)], root);
      assert.equal(t.code, 0, `${name}'s generated test:\n${t.out}`);
      assert.match(t.out, /# fail 0/, t.out);
    }
    const dry = run(process.execPath, [join('bin', 'weather'), '--dry-run', '--format', 'lp', '--now', '2026-01-01T13:00:00Z'], root);
    assert.equal(dry.code, 0, dry.out);
    assert.match(dry.out, /^weather,source=example value=0\.5,hour=13i 1767272400000000000$/m, dry.out);
  });
});

describe('metrics new: refusals, and nothing written', () => {
  test('names: valid folder and module names only, no leading _, no command name', () => {
    assert.equal(checkNewName('weather'), undefined);
    assert.equal(checkNewName('disk_usage2'), undefined);
    for (const bad of ['Weather', '2fast', 'with-dash', 'a b', '', 'x/y', '../x', 'é'])
      assert.match(checkNewName(bad) ?? '', /not a valid collector name/, bad);
    assert.match(checkNewName('_shared') ?? '', /starts with "_"/);
    assert.match(checkNewName('a'.repeat(33)) ?? '', /longer than 32/);
    const reserved = commandNames();
    for (const cmd of ['run', 'list', 'new', 'daemon', 'systemd', 'event', 'kubernetes', 'grafana', 'check', 'schedule', 'outbox']) {
      assert.ok(reserved.includes(cmd), `${cmd} in ${reserved.join(', ')}`);
      assert.match(checkNewName(cmd, reserved) ?? '', /is the name of a metrics command/, cmd);
    }
  });

  test('class names', () => {
    assert.equal(pascalCase('weather'), 'Weather');
    assert.equal(pascalCase('github_runner'), 'GithubRunner');
    assert.equal(pascalCase('x_2'), 'X2');
  });

  test('an existing source folder, bin script or test folder: refused, naming it, and nothing written', async () => {
    for (const existing of ['src/collectors/weather', 'bin/weather', 'test/collectors/weather']) {
      const root = emptyRoot();
      mkdirSync(join(root, 'bin'));
      if (existing.startsWith('bin')) writeFileSync(join(root, existing), 'mine\n');
      else mkdirSync(join(root, existing), { recursive: true });
      const before = tree(root);
      await assert.rejects(scaffoldCollector({ root, name: 'weather' }), (e: unknown) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.match(e.message, new RegExp(`${existing} already exist\\(s\\).*nothing was written`));
        return true;
      });
      assert.deepEqual(tree(root), before, existing);
      if (existing.startsWith('bin')) assert.equal(readFileSync(join(root, existing), 'utf8'), 'mine\n');
    }
  });

  test('an unknown --from, an invalid --interval: refused, nothing written', async () => {
    const root = emptyRoot();
    mkdirSync(join(root, 'src', 'collectors', 'system'), { recursive: true });
    writeFileSync(join(root, 'src', 'collectors', 'system', 'index.ts'), '');
    await assert.rejects(scaffoldCollector({ root, name: 'w', from: 'nope' }), /--from: no collector "nope" .*\(known: system\)/);
    await assert.rejects(scaffoldCollector({ root, name: 'w', interval: '5 parsecs' }), /--interval: .*5 parsecs/);
    await assert.rejects(scaffoldCollector({ root, name: 'w', interval: '0' }), /--interval: .*greater than zero/);
    assert.deepEqual(tree(root), ['src/collectors/system/index.ts']);
  });

  test('the command line: exit 2 with the reason for a command name, an invalid name, an existing one; --help', async () => {
    const root = emptyRoot();
    const r1 = await runCli(['new', 'daemon', '--root', root]);
    assert.equal(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, /"daemon" is the name of a metrics command/);
    const r2 = await runCli(['new', 'Bad-Name', '--root', root]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /not a valid collector name/);
    assert.deepEqual(tree(root), []);
    const ok = await runCli(['new', 'weather', '--root', root, '--interval', '*/10 * * * *']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /created collector "weather"/);
    assert.match(readFileSync(join(root, 'src/collectors/weather/index.ts'), 'utf8'), /RUN_INTERVAL = '\*\/10 \* \* \* \*';/);
    const again = await runCli(['new', 'weather', '--root', root]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /already exist/);
    const help = await runCli(['new', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--from/);
    assert.match(help.stdout, /--interval/);
    assert.ok(!existsSync(join(repoRoot, 'src', 'collectors', 'weather')), 'nothing written into this checkout');
  });

  test('the shipped bin/<collector> scripts are the scaffold template', () => {
    for (const name of readdirSync(join(repoRoot, 'bin')).filter((n) => n !== 'metrics')) {
      assert.equal(readFileSync(join(repoRoot, 'bin', name), 'utf8'), COLLECTOR_BIN, `bin/${name}`);
    }
  });
});
