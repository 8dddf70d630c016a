import type { CommandModule } from 'yargs';

export const command: CommandModule<object, { json: boolean }> = {
  command: 'list',
  describe: 'list the collectors with their schedule and next run',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as never,
  handler: async (args) => {
    const { discoverCollectors } = await import('../discovery.js');
    const { EXIT } = await import('../exit.js');
    const collectors = await discoverCollectors();
    const rows = collectors.map((c) => ({ name: c.name, schedule: c.runInterval, error: c.error }));
    if (args.json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    } else {
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      const s = Math.max(8, ...rows.map((r) => r.schedule.length));
      const out = [`${'NAME'.padEnd(w)}  ${'SCHEDULE'.padEnd(s)}  STATUS`];
      for (const r of rows) out.push(`${r.name.padEnd(w)}  ${r.schedule.padEnd(s)}  ${r.error ? `BROKEN: ${r.error}` : 'ok'}`);
      process.stdout.write(out.join('\n') + '\n');
    }
    if (rows.some((r) => r.error)) process.exitCode = EXIT.FAILED;
  },
};
