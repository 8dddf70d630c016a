import type { Argv, CommandModule } from 'yargs';
import { settings } from '../context.js';

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function age(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

const status: CommandModule<object, { json: boolean }> = {
  command: 'status',
  describe: 'show what waits in the outbox: files, points, bytes, the oldest age, dropped, rejected and corrupt batches',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as never,
  handler: async (args) => {
    const { openOutbox } = await import('../../delivery/delivery.js');
    const { createLogger } = await import('../../platform/log.js');
    const outbox = await openOutbox(settings().state, createLogger({}));
    await outbox.open();
    const s = await outbox.status();
    if (args.json) {
      process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      return;
    }
    const rows: Array<[string, string]> = [
      ['directory', s.dir],
      ['pending', `${s.points} points in ${s.files} files, ${human(s.bytes)} of ${human(s.maxBytes)}`],
      ['oldest', age(s.oldestAgeSeconds)],
      ['dropped', `${s.dropped} points in ${s.droppedFiles} files (the outbox was full)`],
      ['rejected', `${s.rejected.points} points in ${s.rejected.files} files (InfluxDB refused them; see ${s.dir}/rejected/*.reason.txt)`],
      ['corrupt', `${s.corrupt} files set aside (see ${s.dir}/corrupt/*.reason.txt)`],
    ];
    if (s.damaged) rows.push(['damaged', `${s.damaged} pending files with an unreadable header (set aside at the next replay)`]);
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(9)}  ${v}`).join('\n') + '\n');
  },
};

const flush: CommandModule<object, { verbose: boolean }> = {
  command: 'flush',
  describe: 'send what waits in the outbox to InfluxDB now, oldest first',
  builder: (y) => y.option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show debug lines' }) as never,
  handler: async (args) => {
    const { Delivery, openOutbox } = await import('../../delivery/delivery.js');
    const { replayOutbox } = await import('../../delivery/replay-outbox.js');
    const { createLogger } = await import('../../platform/log.js');
    const { EXIT } = await import('../../platform/exit.js');
    const log = createLogger({ verbose: args.verbose });
    const outbox = await openOutbox(settings().state, log);
    await outbox.open();
    const delivery = await Delivery.open(settings().influx(), log, outbox);
    const tty = process.stderr.isTTY === true;
    let last = 0;
    const progress = tty
      ? (done: { files: number; points: number }, total: { files: number; points: number }) => {
          const now = Date.now();
          if (now - last < 100 && done.files < total.files) return;
          last = now;
          const pct = total.points ? Math.floor((done.points / total.points) * 100) : 100;
          const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
          process.stderr.write(`\r[${bar}] ${pct}%  ${done.points}/${total.points} points, ${done.files}/${total.files} files`);
        }
      : undefined;
    const r = await replayOutbox(delivery, outbox, log, progress);
    if (tty) process.stderr.write('\n');
    if (r.busy) {
      process.stdout.write('another process is replaying the outbox; nothing done\n');
      process.exitCode = EXIT.BUSY;
      return;
    }
    const { redact } = await import('../../platform/redact.js');
    process.stdout.write(
      `sent ${r.sent.points} points (${r.sent.files} files); rejected ${r.rejected.points} points (${r.rejected.files} files); ` +
        `corrupt files set aside: ${r.corrupt}; still waiting: ${r.remaining.points} points (${r.remaining.files} files)\n`,
    );
    if (r.stopped) process.stdout.write(redact(`stopped: ${r.stopped}`) + '\n');
    process.exitCode = r.rejected.files > 0 || r.corrupt > 0 ? EXIT.FAILED : r.remaining.files > 0 ? EXIT.DEFERRED : EXIT.OK;
  },
};

export const command: CommandModule = {
  command: 'outbox <command>',
  describe: 'inspect or flush the durable outbox of points InfluxDB has not accepted yet',
  builder: (y: Argv) => y.command(status).command(flush).demandCommand(1, 'name an outbox command: status or flush') as never,
  handler: () => {},
};
