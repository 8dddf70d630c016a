/**
 * `metrics event <event_name> key=value ...`: issue a metric event from a shell script (runner
 * hooks are often bash); `metrics event --list`: the known events and their fields.
 *
 * Light at import: zod, the event catalogs and the sinks load in the handler.
 */
import type { CommandModule } from 'yargs';
import { VARIABLES } from '../../platform/settings.js';
import { settings } from '../context.js';

interface Args {
  name?: string;
  values?: string[];
  list: boolean;
  json: boolean;
  'dry-run': boolean;
  verbose: boolean;
}

const SINKS_HELP = `Where events go (environment; see the README, "Configuration"):
${VARIABLES.filter((v) => ['METRICS_EVENT_SINKS', 'METRICS_LOG_PATH', 'PROMTAIL_PUSH_API_URL'].includes(v.name))
  .map((v) => {
    const rule = v.name === 'METRICS_EVENT_SINKS' ? `:\n${' '.repeat(25)}${v.rule}; default: ${v.default}` : '';
    return `  ${v.name.padEnd(22)} ${v.meaning}${rule}`.replaceAll('`', '');
  })
  .join('\n')}
  INFLUXDB_*, INFLUX_*   the InfluxDB configuration for the influx sink, as for collectors

Values are coerced by the event's schema: numbers, integers, booleans (true/false),
strings; nested fields with dots (status_info.code=3). timestamp=<UNIX seconds> sets
the time (default: now).

Exit codes: 0 issued; 1 a sink failed; 2 unknown event, invalid value or configuration
error (then nothing is issued); 3 InfluxDB unavailable, the event waits in the outbox.`;

export const command: CommandModule<object, Args> = {
  command: 'event [name] [values..]',
  describe: 'issue a metric event (key=value fields) to the configured sinks; --list shows the known events',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'the event name, e.g. runner_installed (see --list)' })
      .positional('values', { type: 'string', array: true, default: [], describe: 'the fields, as key=value' })
      .option('list', { alias: 'l', type: 'boolean', default: false, describe: 'list the known events and their fields' })
      .option('json', { type: 'boolean', default: false, describe: 'with --list: print JSON' })
      .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'validate and show what would be sent, send nothing' })
      .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show debug lines' })
      .example('$0 event runner_installed flavor=small duration=12.5', 'append a runner_installed event to $METRICS_LOG_PATH')
      .example(
        '$0 event runner_stop flavor=small workflow=ci repo=o/r github_event=push status=normal status_info.code=1 job_duration=30',
        'a nested field',
      )
      .example('$0 event --list', 'the known events and their fields')
      .epilogue(SINKS_HELP) as never,
  handler: async (args) => {
    const { UsageError } = await import('../../platform/errors.js');
    const { EXIT } = await import('../../platform/exit.js');
    const { createLogger } = await import('../../platform/log.js');
    const { EventValidationError, IssueMetricEventError } = await import('../../events/event.js');
    const { findEvent, listEvents, loadEventCatalogs } = await import('../../events/registry.js');
    const { eventDataFromPairs } = await import('../../events/coerce.js');
    const log = createLogger({ verbose: args.verbose, scope: 'event' });
    const catalogs = await loadEventCatalogs(settings().run.collectorsDir);
    for (const f of catalogs.failed) log.warn(`event catalog ${f.file} failed to load: ${f.error}`);

    if (args.list) {
      if (args.name) throw new UsageError('--list takes no event name');
      const list = listEvents();
      process.stdout.write(args.json ? JSON.stringify(list, null, 2) + '\n' : formatList(list));
      return;
    }
    if (!args.name)
      throw new UsageError(
        'name the event to issue, e.g. metrics event runner_installed flavor=small duration=12.5 (see metrics event --list)',
      );
    const cls = findEvent(args.name);
    if (!cls) {
      const known = listEvents().map((e) => e.name);
      const broken = catalogs.failed.length ? `; ${catalogs.failed.length} event catalog(s) failed to load, see above` : '';
      throw new UsageError(
        `unknown event "${args.name}": known events are ${known.join(', ') || 'none'}${broken} (see metrics event --list)`,
      );
    }
    let event: import('../../events/event.js').Event;
    try {
      event = new cls(eventDataFromPairs(cls, (args.values ?? []).map(String)));
    } catch (error) {
      if (error instanceof EventValidationError) {
        throw new UsageError(`${error.message} (see metrics event --list); nothing was issued`);
      }
      throw error;
    }
    const { createEventSinks } = await import('../../events/sinks.js');
    const sinks = createEventSinks({ settings: settings(), log, dryRun: args['dry-run'] });
    try {
      const { sinks: sent, deferred } = await sinks.issue(event);
      log.debug(`${event.event} issued to ${sent.join(', ') || 'no sink (METRICS_EVENT_SINKS=none)'}: ${event.toLine()}`);
      if (sent.length === 0) log.warn(`METRICS_EVENT_SINKS=none: event ${event.event} validated but not issued`);
      if (deferred) process.exitCode = EXIT.DEFERRED;
    } catch (error) {
      if (error instanceof IssueMetricEventError) {
        log.error(error.message);
        process.exitCode = EXIT.FAILED;
        return;
      }
      throw error;
    }
  },
};

function formatList(list: import('../../events/describe.js').EventInfo[]): string {
  if (list.length === 0) return 'no events are known (no collector defines an events catalog)\n';
  const out: string[] = [];
  for (const e of list) {
    out.push(`${e.name}${e.description ? ` - ${e.description}` : ''}`);
    const rows = e.fields.map((f) => {
      const tag = e.tags.includes(f.path.replaceAll('.', '_')) ? ', tag' : '';
      return [f.path, [f.type, ...f.constraints].join(' ') + (f.optional ? ', optional' : '') + tag, f.description ?? ''];
    });
    const w0 = Math.max(...rows.map((r) => r[0]!.length));
    const w1 = Math.max(...rows.map((r) => r[1]!.length));
    for (const [path, kind, description] of rows)
      out.push(`  ${path!.padEnd(w0)}  ${description ? kind!.padEnd(w1) + '  ' + description : kind}`);
    out.push('');
  }
  return out.join('\n');
}
