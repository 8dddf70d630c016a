/**
 * `metrics systemd generate|install|uninstall|generator`: systemd units for the collectors.
 * Light at import: the work is in ../systemd/, loaded by the handlers.
 */
import type { Argv, CommandModule } from 'yargs';
import type { UnitOptions } from '../../systemd/options.js';
import { settings } from '../context.js';

interface UnitArgs {
  prefix: string;
  node?: string;
  'runtime-max-sec'?: string;
  'randomized-delay-sec'?: string;
  'fixed-random-delay': boolean;
  'accuracy-sec'?: string;
  'on-boot-sec'?: string;
  user?: string;
  'environment-file'?: string;
  credential: string[];
  'credentials-dir'?: string;
  'proc-subset'?: 'all' | 'pid';
  'ip-address-allow': string[];
  'collectors-dir'?: string;
  'service-option': string[];
}

function unitOptions<T>(y: Argv<T>): never {
  return y
    .option('prefix', { type: 'string', default: 'metrics', describe: 'unit name prefix: <prefix>@.service, <prefix>@<name>.timer (also the state directory and dynamic user name)' })
    .option('node', { type: 'string', describe: 'node executable for ExecStart= (default: the node running this command)' })
    .option('runtime-max-sec', { type: 'string', describe: 'RuntimeMaxSec= of one run, a systemd time span (default 15min)' })
    .option('randomized-delay-sec', { type: 'string', describe: 'RandomizedDelaySec= of the timers: random delay (jitter) before each run (default none)' })
    .option('fixed-random-delay', { type: 'boolean', default: false, describe: 'FixedRandomDelay=yes: keep the random delay of each timer stable' })
    .option('accuracy-sec', { type: 'string', describe: 'AccuracySec= of the timers (default 1s)' })
    .option('on-boot-sec', { type: 'string', describe: 'OnBootSec= of time-span timers: first run after boot (default 1min)' })
    .option('user', { type: 'string', describe: 'run as this existing user (User=) instead of a dynamic user (DynamicUser=yes)' })
    .option('environment-file', { type: 'string', describe: "EnvironmentFile= with the configuration (default /etc/metrics/env, optional; '' for none)" })
    .option('credential', { type: 'string', array: true, default: [], describe: 'LoadCredential=NAME:PATH (repeatable), e.g. INFLUX_TOKEN:/etc/metrics/token' })
    .option('credentials-dir', { type: 'string', describe: "each file in this directory becomes a LoadCredential= named after it (default /etc/metrics/credentials; '' for none)" })
    .option('proc-subset', { choices: ['all', 'pid'] as const, describe: 'ProcSubset=: all (default; host collectors read /proc/meminfo…) or pid' })
    .option('ip-address-allow', { type: 'string', array: true, default: [], describe: 'only allow these addresses/prefixes (IPAddressDeny=any + IPAddressAllow=), repeatable' })
    .option('collectors-dir', { type: 'string', describe: 'collectors directory (default: $METRICS_COLLECTORS_DIR or the built-in one); passed to the runs' })
    .option('service-option', { type: 'string', array: true, default: [], describe: 'extra Key=Value line for the [Service] section (repeatable), e.g. MemoryMax=512M' }) as never;
}

async function toUnitOptions(a: UnitArgs): Promise<UnitOptions> {
  const { UsageError } = await import('../../platform/errors.js');
  const credentials = (a.credential ?? []).map((c) => {
    const i = c.indexOf(':');
    if (i <= 0) throw new UsageError(`--credential ${JSON.stringify(c)} must be NAME:PATH, e.g. INFLUX_TOKEN:/etc/metrics/token`);
    return { name: c.slice(0, i), path: c.slice(i + 1) };
  });
  const { run } = settings();
  return {
    prefix: a.prefix,
    node: a.node,
    runtimeMaxSec: a['runtime-max-sec'],
    randomizedDelaySec: a['randomized-delay-sec'],
    fixedRandomDelay: a['fixed-random-delay'],
    accuracySec: a['accuracy-sec'],
    onBootSec: a['on-boot-sec'],
    user: a.user,
    environmentFile: a['environment-file'],
    credentials,
    credentialsDir: a['credentials-dir'],
    procSubset: a['proc-subset'],
    ipAddressAllow: a['ip-address-allow'],
    // the runs get the collectors directory this command was given: --collectors-dir, else METRICS_COLLECTORS_DIR
    collectorsDir: a['collectors-dir'] ?? (run.collectorsDirGiven ? run.collectorsDir : undefined),
    extraService: a['service-option'],
  };
}

async function discoverFor(opts: UnitOptions) {
  const { discoverCollectors, enabledOnly } = await import('../../run/discovery.js');
  return enabledOnly(await discoverCollectors(settings().run, opts.collectorsDir ? { dir: opts.collectorsDir } : {}));
}

const generate: CommandModule<object, UnitArgs & { out: string }> = {
  command: 'generate',
  describe: 'write the template service and one timer per collector into a directory',
  builder: (y) =>
    unitOptions(
      y
        .option('out', { type: 'string', demandOption: true, describe: 'directory to write the unit files to (created if missing)' })
        .example('$0 systemd generate --out /tmp/units', 'look at the units before installing them')
        .example('systemd-analyze security --offline=true /tmp/units/metrics@.service', 'check the hardening'),
    ),
  handler: async (args) => {
    const { generateUnits } = await import('../../systemd/units.js');
    const { EXIT } = await import('../../platform/exit.js');
    const { writeFileAtomic } = await import('../../platform/atomic.js');
    const { mkdir } = await import('node:fs/promises');
    const { join, resolve } = await import('node:path');
    const opts = await toUnitOptions(args);
    const gen = generateUnits(await discoverFor(opts), opts);
    const out = resolve(args.out);
    await mkdir(out, { recursive: true });
    for (const [name, content] of gen.files) {
      // a link planted in DIR (by anyone who may write there) is replaced, never written through
      await writeFileAtomic(join(out, name), content, { mode: 0o644 }).catch((error: NodeJS.ErrnoException) => {
        throw new Error(`cannot write ${join(out, name)}: ${error.code ?? error.message}; check that ${out} is a directory this user may write to`, { cause: error });
      });
      process.stdout.write(`${join(out, name)}\n`);
    }
    for (const w of gen.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const s of gen.skipped) process.stderr.write(`error: no timer for ${s.name}: ${s.error}\n`);
    process.exitCode = gen.skipped.length ? EXIT.FAILED : EXIT.OK;
  },
};

interface InstallArgs extends UnitArgs {
  'unit-dir': string;
  systemctl: string;
  'dry-run': boolean;
  force: boolean;
  generator: boolean;
  'generator-dir': string;
}

const install: CommandModule<object, InstallArgs> = {
  command: 'install',
  describe: 'install the units (default /etc/systemd/system), remove those of vanished collectors, daemon-reload, enable --now the timers',
  builder: (y) =>
    unitOptions(
      y
        .option('unit-dir', { type: 'string', default: '/etc/systemd/system', describe: 'where to write the units' })
        .option('systemctl', { type: 'string', default: 'systemctl', describe: 'systemctl executable' })
        .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'print the plan, change nothing' })
        .option('force', { type: 'boolean', default: false, describe: 'overwrite unit files of the same name not generated by metrics' })
        .option('generator', { type: 'boolean', default: false, describe: 'install a systemd generator instead: the timers follow the collector folders at every boot and daemon-reload' })
        .option('generator-dir', { type: 'string', default: '/etc/systemd/system-generators', describe: 'where --generator puts the generator' })
        .example('sudo $0 systemd install --dry-run', 'show what would be written and run')
        .example('sudo $0 systemd install --randomized-delay-sec 30s', 'install, with up to 30 s of jitter per run')
        .example('sudo $0 systemd install --generator', 'install the generator instead of static units'),
    ),
  handler: async (args) => {
    const sd = await import('../../systemd/install.js');
    const { EXIT } = await import('../../platform/exit.js');
    const opts = await toUnitOptions(args);
    if (args.generator) {
      await sd.installGenerator({ ...opts, generatorDir: args['generator-dir'], systemctl: args.systemctl, dryRun: args['dry-run'] });
      process.exitCode = EXIT.OK;
      return;
    }
    const result = await sd.installUnits({
      ...opts,
      collectors: await discoverFor(opts),
      unitDir: args['unit-dir'],
      systemctl: args.systemctl,
      dryRun: args['dry-run'],
      force: args.force,
    });
    process.exitCode = result.skipped.length ? EXIT.FAILED : EXIT.OK;
  },
};

interface UninstallArgs {
  prefix: string;
  'unit-dir': string;
  systemctl: string;
  'dry-run': boolean;
  generator: boolean;
  'generator-dir': string;
}

const uninstall: CommandModule<object, UninstallArgs> = {
  command: 'uninstall',
  describe: 'disable the timers and remove the units (or the generator) that install wrote',
  builder: (y) =>
    y
      .option('prefix', { type: 'string', default: 'metrics', describe: 'unit name prefix used at install' })
      .option('unit-dir', { type: 'string', default: '/etc/systemd/system', describe: 'where the units were written' })
      .option('systemctl', { type: 'string', default: 'systemctl', describe: 'systemctl executable' })
      .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'print the plan, change nothing' })
      .option('generator', { type: 'boolean', default: false, describe: 'remove the generator installed with install --generator' })
      .option('generator-dir', { type: 'string', default: '/etc/systemd/system-generators', describe: 'where the generator is' }) as never,
  handler: async (args) => {
    const sd = await import('../../systemd/install.js');
    const opts = { prefix: args.prefix, systemctl: args.systemctl, dryRun: args['dry-run'] };
    if (args.generator) await sd.uninstallGenerator({ ...opts, generatorDir: args['generator-dir'] });
    else await sd.uninstallUnits({ ...opts, unitDir: args['unit-dir'] });
  },
};

interface GeneratorArgs extends UnitArgs {
  'normal-dir': string;
  'early-dir'?: string;
  'late-dir'?: string;
}

const generator: CommandModule<object, GeneratorArgs> = {
  command: 'generator <normal-dir> [early-dir] [late-dir]',
  describe: 'systemd generator mode (called by systemd with three directories): write the units and enable the timers; never fails',
  builder: (y) =>
    unitOptions(
      y
        .positional('normal-dir', { type: 'string', describe: 'output directory of normal priority (units and timers.target.wants/ go here)' })
        .positional('early-dir', { type: 'string', describe: 'unused' })
        .positional('late-dir', { type: 'string', describe: 'unused' })
        .epilog('Install with: metrics systemd install --generator (writes /etc/systemd/system-generators/<prefix>-generator).'),
    ),
  handler: async (args) => {
    const { generatorLog, runGenerator } = await import('../../systemd/generator.js');
    const { run, underSystemd } = settings();
    const log = generatorLog(underSystemd);
    let opts: UnitOptions = {};
    try {
      opts = await toUnitOptions(args);
    } catch (error) {
      log.error(`${(error as Error).message}; using the defaults`);
    }
    const dirs = [args['normal-dir'], args['early-dir'], args['late-dir']].filter((d): d is string => typeof d === 'string');
    process.exitCode = await runGenerator(dirs, { ...opts, run, log });
  },
};

export const command: CommandModule<object, object> = {
  command: 'systemd <command>',
  describe: 'generate, install or uninstall systemd units (one timer per collector), or act as a systemd generator',
  builder: (y) =>
    y
      .command(generate)
      .command(install)
      .command(uninstall)
      .command(generator)
      .demandCommand(1, 'name a systemd command: generate, install, uninstall or generator') as never,
  handler: () => {},
};
