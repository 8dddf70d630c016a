/**
 * `metrics new <name> [--from <collector>] [--interval <RUN_INTERVAL>]`: creates a collector that
 * runs and passes its test as generated (scaffold.ts). The names it refuses include those of the
 * CLI's commands, which yargs.ts hands in (this module cannot import it: yargs.ts imports this).
 */
import type { CommandModule } from 'yargs';

interface Args {
  name: string;
  from?: string;
  interval?: string;
  root?: string;
}

/** The command, refusing the names `reserved()` gives (the registered commands). */
export function newCommand(reserved: () => readonly string[]): CommandModule<object, Args> {
  return {
    command: 'new <name>',
    describe: 'create a collector: its source folder, README, bin/ script, and a test with an empty fixture folder',
    builder: (y) =>
      y
        .positional('name', {
          type: 'string',
          demandOption: true,
          describe:
            'the new collector (lower-case letters, digits and _, starting with a letter, at most 32 characters, not a command name)',
        })
        .option('from', { type: 'string', describe: 'copy this existing collector instead of the example, renamed' })
        .option('interval', {
          type: 'string',
          describe: "its RUN_INTERVAL: a systemd time span ('5m', '1h 30min') or a cron expression (default 5m, or the copied one)",
        })
        .option('root', { type: 'string', describe: 'the repository to create it in (default: this checkout)', hidden: true })
        .example('$0 new weather', 'src/collectors/weather/, bin/weather, test/collectors/weather/')
        .example('$0 new disk_usage --from system --interval 10m', 'a copy of system, renamed, on a 10 minutes interval')
        .epilog('Nothing is overwritten: an existing folder or script of that name stops it before anything is written.') as never,
    handler: async (args) => {
      const { scaffoldCollector } = await import('../scaffold.js');
      const r = await scaffoldCollector({
        name: args.name,
        reserved: reserved(),
        ...(args.from !== undefined ? { from: args.from } : {}),
        ...(args.interval !== undefined ? { interval: args.interval } : {}),
        ...(args.root !== undefined ? { root: args.root } : {}),
      });
      const out = [
        `created collector "${args.name}" in ${r.root}:`,
        ...r.files.map((f) => `  ${f}`),
        'next:',
        ...r.next.map((n) => `  ${n}`),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    },
  };
}
