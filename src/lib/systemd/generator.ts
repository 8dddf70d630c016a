/**
 * The systemd generator (/etc/systemd/system-generators/<prefix>-generator), run by systemd at
 * boot and at every daemon-reload, so that a new collector folder gets its timer with no install
 * step. It never fails: a broken collector is skipped and logged.
 *
 * This file is also the generator's entry point: the installed script runs
 * `node dist/src/lib/systemd/generator.js generator [options] DIR…` (see install.ts), which skips
 * the yargs CLI; the code at the bottom runs only when this file is the process's main module.
 */
import { openSync, promises as fsp, realpathSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiscoveredCollector } from '../run/discovery.js';
import { describePath, symlinkAtomic, writeFileAtomic } from '../platform/atomic.js';
import { errorMessage } from '../platform/errors.js';
import { createLogger, type Logger } from '../platform/log.js';
import { readSettings, type RunSettings } from '../platform/settings.js';
import { discoverForUnits } from './discover.js';
import { parseUnitArgs, type UnitOptions } from './options.js';
import { generateUnits, type GeneratedUnits } from './units.js';

export interface GeneratorOptions extends UnitOptions {
  collectors?: DiscoveredCollector[];
  /** the run settings, to discover the collectors when `collectors` is not given */
  run?: RunSettings;
  /** default: generatorLog() */
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * The generator's logger (platform/log.ts): lines `level [metrics-generator] message` on stderr
 * when run by hand (or by a test), or one kernel log record per line (/dev/kmsg, with the
 * line's priority) when systemd runs it (`underSystemd`: $SYSTEMD_SCOPE is set) and it may write there.
 */
export function generatorLog(underSystemd: boolean): Logger {
  const scope = 'metrics-generator';
  let fd: number | undefined;
  if (underSystemd) {
    try {
      fd = openSync('/dev/kmsg', 'w');
    } catch {
      fd = undefined;
    }
  }
  if (fd === undefined) return createLogger({ scope });
  const prio = { error: 3, warn: 4, info: 6, debug: 7 } as const;
  return createLogger({
    scope,
    write: (line, level) => {
      try {
        // one record per write; the kernel limits a record to about 1 KiB
        writeSync(fd!, `<${prio[level]}>metrics-generator[${process.pid}]: ${line.slice(0, 900)}\n`);
      } catch {
        process.stderr.write(line + '\n');
      }
    },
  });
}

/**
 * systemd generator entry point: `dirs` are the normal, early and late output directories.
 * Writes the units into the first (normal priority: /etc/systemd/system still overrides them) and
 * enables the timers with symlinks in `<dir>/timers.target.wants/`. Never throws; returns the exit
 * code, always 0 (a generator failing would only hide the units of the healthy collectors).
 */
export async function runGenerator(dirs: string[], opts: GeneratorOptions = {}): Promise<number> {
  const log = opts.log ?? generatorLog(false);
  try {
    const dir = dirs[0];
    if (!dir || !isAbsolute(dir)) {
      log.error(
        `expected the generator output directories as arguments (normal [early late]), got ${JSON.stringify(dirs)}; nothing generated`,
      );
      return 0;
    }
    let collectors: DiscoveredCollector[];
    try {
      collectors = await discoverForUnits(opts, (m) => log.warn(m));
    } catch (error) {
      log.error(`cannot discover the collectors: ${errorMessage(error)}; nothing generated`);
      return 0;
    }
    let gen: GeneratedUnits;
    try {
      gen = generateUnits(collectors, opts);
    } catch (error) {
      log.error(`cannot generate the units: ${errorMessage(error)}; nothing generated`);
      return 0;
    }
    for (const s of gen.skipped) log.warn(`collector ${s.name} skipped: ${s.error}`);
    for (const w of gen.warnings) log.warn(w);
    const wants = join(dir, 'timers.target.wants');
    const wantsProblem = await ensureRealDir(wants);
    if (wantsProblem) log.error(`cannot enable the timers: ${wantsProblem}`);
    for (const [name, content] of gen.files) {
      try {
        await writeFileAtomic(join(dir, name), content, { mode: 0o644 });
      } catch (error) {
        log.error(`cannot write ${join(dir, name)}: ${errorMessage(error)}`);
        continue;
      }
      if (name.endsWith('.timer') && !wantsProblem) {
        const link = join(wants, name);
        try {
          await symlinkAtomic(join(dir, name), link);
        } catch (error) {
          log.error(`cannot enable ${name} (${link}): ${errorMessage(error)}`);
        }
      }
    }
  } catch (error) {
    log.error(`unexpected failure: ${errorMessage(error)}`);
  }
  return 0;
}

/** Create `dir` if missing; a problem (a link or a non-directory there) is returned, never followed. */
async function ensureRealDir(dir: string): Promise<string | undefined> {
  try {
    await fsp.mkdir(dirname(dir), { recursive: true });
    await fsp.mkdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot create ${dir}: ${errorMessage(error)}`;
  }
  const st = await fsp.lstat(dir).catch(() => undefined);
  if (st?.isDirectory()) return undefined;
  return `${dir} is ${(await describePath(dir)) ?? 'not a directory'}, not a directory: not writing through it (remove it)`;
}

// ---------------------------------------------------------------------------------------------
// Direct entry point: `node dist/src/lib/systemd/generator.js generator [options] DIR…`

/**
 * `node dist/src/lib/systemd/generator.js generator [options] NORMAL [EARLY LATE]`: always exit
 * code 0. This entry point reads the settings itself (readSettings: a mistake in them is logged,
 * and the defaults are used in its place), as cli/main.ts does for bin/metrics.
 */
export async function generatorMain(argv: string[]): Promise<number> {
  const { settings, problems: invalid } = readSettings();
  const log = generatorLog(settings.underSystemd);
  for (const p of invalid) log.warn(`${p} (the default is used)`);
  const [verb, ...rest] = argv;
  if (verb !== 'generator') {
    log.error(`usage: node ${fileURLToPath(import.meta.url)} generator [options] NORMAL-DIR [EARLY-DIR LATE-DIR]`);
    return 0;
  }
  const { options, positionals, problems } = parseUnitArgs(rest);
  for (const p of problems) log.warn(`${p} (ignored)`);
  const run = settings.run;
  return runGenerator(positionals, {
    ...options,
    collectorsDir: options.collectorsDir ?? (run.collectorsDirGiven ? run.collectorsDir : undefined),
    run,
    log,
  });
}

function isMainModule(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  void generatorMain(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 0;
    },
  );
}
