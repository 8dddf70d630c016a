/**
 * `metrics grafana dashboard`: a Grafana dashboard (JSON on stdout) for the collectors' health
 * (collector_run) and, per collector, the measurements its README lists. Light at import: the
 * work is in ../grafana/, loaded by the handler.
 */
import type { CommandModule } from 'yargs';
import { settings } from '../context.js';

interface DashboardArgs {
  datasource?: string;
  language: 'influxql' | 'flux';
  bucket: string;
  title: string;
  uid: string;
}

const dashboard: CommandModule<object, DashboardArgs> = {
  command: 'dashboard',
  describe: "print a Grafana dashboard (JSON) for the collectors' health and their measurements",
  builder: (y) =>
    y
      .option('datasource', {
        type: 'string',
        describe: 'UID of the InfluxDB data source in Grafana (default: a variable, chosen when the dashboard is opened)',
      })
      .option('language', {
        choices: ['influxql', 'flux'] as const,
        default: 'influxql' as const,
        describe: 'query language: InfluxQL (InfluxDB 1.x, or 2.x through its 1.x API) or Flux (InfluxDB 2.x)',
      })
      .option('bucket', { type: 'string', default: 'metrics', describe: 'Flux: the bucket (a dashboard variable, this is its default)' })
      .option('title', { type: 'string', default: 'Metrics collectors', describe: 'dashboard title' })
      .option('uid', {
        type: 'string',
        default: 'influx-collectors',
        describe: 'dashboard UID (importing again replaces the dashboard with this UID)',
      })
      .example('$0 grafana dashboard > dashboard.json', 'then in Grafana: Dashboards > New > Import, upload dashboard.json')
      .example(
        '$0 grafana dashboard --language flux --bucket metrics --datasource P951FEA4DE68E13C5',
        'Flux queries for an InfluxDB 2.x data source',
      )
      .example(
        'curl -H "Authorization: Bearer $GRAFANA_TOKEN" -H "Content-Type: application/json" -d "{\\"dashboard\\": $($0 grafana ' +
          'dashboard), \\"overwrite\\": true}" https://grafana.example/api/dashboards/db',
        'or through the HTTP API',
      )
      .epilog(
        "Per-collector panels come from the measurement table of each collector's README.md (see the README, " +
          '"Dashboards", for the table format); a collector without one gets no panels, and a warning says so.',
      ) as never,
  handler: async (args) => {
    const { discoverCollectors } = await import('../../run/discovery.js');
    const { repoRoot } = await import('../../platform/paths.js');
    const { generateDashboard } = await import('../../grafana/dashboard.js');
    const { parseMeasurementTables } = await import('../../grafana/measurements.js');
    const { UsageError } = await import('../../platform/errors.js');
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { EXIT } = await import('../../platform/exit.js');
    if (args.datasource !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(args.datasource)) {
      throw new UsageError(
        `--datasource ${JSON.stringify(args.datasource)} is not a data source UID (letters, digits, "-" and "_", at most 40; see ` +
          `Connections > Data sources in Grafana, the UID is in the URL)`,
      );
    }
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(args.uid))
      throw new UsageError(`--uid ${JSON.stringify(args.uid)} is not a dashboard UID (letters, digits, "-" and "_", at most 40)`);
    if (args.bucket === '' || /["\\\n]/.test(args.bucket))
      throw new UsageError(`--bucket ${JSON.stringify(args.bucket)} is not a bucket name`);
    const collectors = [];
    for (const c of await discoverCollectors(settings().run, { cheap: true })) {
      // the README sits in the source folder (the compiled one has none), or beside a collector given by METRICS_COLLECTORS_DIR
      const candidates = [join(c.dir, 'README.md'), join(repoRoot, 'src', 'collectors', c.name, 'README.md')];
      let markdown: string | undefined;
      for (const file of candidates) {
        markdown = await readFile(file, 'utf8').catch(() => undefined);
        if (markdown !== undefined) break;
      }
      const measurements = markdown === undefined ? [] : parseMeasurementTables(markdown);
      if (!measurements.length) {
        process.stderr.write(
          `warning: collector "${c.name}": ` +
            `${markdown === undefined ? `no README.md (looked at ${candidates.join(', ')})` : 'its README.md has no measurement table'}: ` +
            'no panels for its measurements (the README, "Dashboards", shows the table format)\n',
        );
      }
      collectors.push({ name: c.name, measurements });
    }
    const d = generateDashboard(collectors, {
      language: args.language,
      datasource: args.datasource,
      bucket: args.bucket,
      title: args.title,
      uid: args.uid,
    });
    process.stdout.write(JSON.stringify(d, null, 2) + '\n');
    process.exitCode = EXIT.OK;
  },
};

export const command: CommandModule<object, object> = {
  command: 'grafana <command>',
  describe: 'Grafana: a dashboard for the collectors',
  builder: (y) => y.command(dashboard).demandCommand(1, 'name a grafana command: dashboard') as never,
  handler: () => {},
};
