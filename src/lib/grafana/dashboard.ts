/**
 * grafana/: a Grafana dashboard for the collectors' health and their measurements: the dashboard
 * (this module) and the reader of the collectors' README measurement tables (measurements.ts).
 * Pure functions of plain data; it may import platform/; nothing but cli/ imports it.
 *
 * A Grafana dashboard for the collectors (`metrics grafana dashboard`), as a plain object ready for
 * `JSON.stringify` and Grafana's "Import dashboard".
 *
 * - **Collector health**, from the `collector_run` point every run writes (runner.ts
 *   selfMetricPoint: tags `collector`, `host`; fields `success`, `duration`, `points`, `written`,
 *   `deferred`, `rejected`, `lost`, `error`): runs and success rate per collector, the last
 *   failure with its error, run duration, points collected and written, points deferred to the
 *   outbox, points rejected and lost. A `collector` variable filters them.
 * - **One row per collector** (collapsed), with a time-series panel per measurement its README's
 *   table lists (measurements.ts), showing its numeric fields.
 *
 * Queries are InfluxQL (an InfluxDB 1.x data source, or 2.x through its 1.x compatibility API)
 * or Flux (`language: 'flux'`, an InfluxDB 2.x data source; the bucket is a dashboard variable).
 * The data source is either fixed (`datasource`: its UID) or chosen when the dashboard is opened
 * (a `datasource` variable of type influxdb).
 *
 * The types below are this module's own; the tests assign the result to `Dashboard` of
 * `@grafana/schema` (a dev dependency), so `npm test` fails when they stop matching. Runtime code
 * does not import it. (They are type aliases, not interfaces: Grafana types targets and options as
 * `Record<string, unknown>`, which an interface does not satisfy.)
 */
import type { FieldSpec, MeasurementSpec } from './measurements.js';

export type QueryLanguage = 'influxql' | 'flux';

export type DataSourceRef = { type: 'influxdb'; uid: string };
export type Target = {
  refId: string;
  datasource: DataSourceRef;
  query: string;
  /** InfluxQL only: the query is raw text, not built with the editor */
  rawQuery?: boolean;
  resultFormat?: 'time_series' | 'table';
  /** InfluxQL only: series names, e.g. `$tag_collector` */
  alias?: string;
};
export type GridPos = { h: number; w: number; x: number; y: number };
export type FieldOverride = { matcher: { id: string; options?: unknown }; properties: Array<{ id: string; value?: unknown }> };
export type Panel = {
  id: number;
  type: 'timeseries' | 'table';
  title: string;
  description?: string;
  gridPos: GridPos;
  datasource: DataSourceRef;
  targets: Target[];
  fieldConfig: {
    defaults: { unit?: string; min?: number; max?: number; decimals?: number; noValue?: string; custom?: Record<string, unknown> };
    overrides: FieldOverride[];
  };
  options: Record<string, unknown>;
  transformations?: Array<{ id: string; options: unknown }>;
};
export type RowPanel = { id: number; type: 'row'; title: string; collapsed: boolean; gridPos: GridPos; panels: Panel[] };
export type Variable = {
  type: 'query' | 'datasource' | 'textbox';
  name: string;
  label?: string;
  description?: string;
  query?: string;
  datasource?: DataSourceRef;
  current?: { text: string | string[]; value: string | string[] };
  /** 1: on load, 2: on time range change */
  refresh?: number;
  multi?: boolean;
  includeAll?: boolean;
  /** 1: alphabetical */
  sort?: number;
};
export type GrafanaDashboard = {
  id: null;
  uid: string;
  title: string;
  description: string;
  tags: string[];
  timezone: string;
  editable: boolean;
  /** 1: shared crosshair */
  graphTooltip: number;
  schemaVersion: number;
  time: { from: string; to: string };
  refresh: string;
  templating: { list: Variable[] };
  panels: Array<Panel | RowPanel>;
};

export interface CollectorMeasurements {
  name: string;
  measurements: MeasurementSpec[];
}

export interface DashboardOptions {
  language?: QueryLanguage;
  /** the InfluxDB data source's UID; default: a `datasource` variable chosen in Grafana */
  datasource?: string;
  /** Flux: the bucket (the `bucket` variable's default); default `metrics` */
  bucket?: string;
  title?: string;
  uid?: string;
}

/** The self-metric every run writes (runner.ts selfMetricPoint); the tests compare it with the real point. */
export const COLLECTOR_RUN: MeasurementSpec = {
  measurement: 'collector_run',
  tags: ['collector', 'host'],
  fields: [
    { name: 'success', type: 'boolean' },
    { name: 'duration', type: 'float' },
    { name: 'points', type: 'integer' },
    { name: 'written', type: 'integer' },
    { name: 'deferred', type: 'integer' },
    { name: 'rejected', type: 'integer' },
    { name: 'lost', type: 'integer' },
    { name: 'error', type: 'string' },
  ],
};

/** Grafana's dashboard JSON schema version this output is written for (Grafana 10.4 / 11). */
export const SCHEMA_VERSION = 39;

const q = (name: string) => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const fluxString = (s: string) => JSON.stringify(s);

/** Builds the queries of one language; every measurement, field and tag name is quoted. */
interface QueryBuilder {
  /** runs and success rate per collector: targets, and the transformations that finish the table */
  successRate(): { targets: Array<Omit<Target, 'datasource' | 'refId'>>; transformations: Array<{ id: string; options: unknown }> };
  lastFailure(): Omit<Target, 'datasource' | 'refId'>;
  /** collector_run fields per collector over time, aggregated with `fn` */
  runFields(fields: string[], fn: 'mean' | 'sum'): Omit<Target, 'datasource' | 'refId'>;
  /** a measurement's fields over time, every series (tag set) of its own */
  measurement(m: MeasurementSpec, fields: FieldSpec[]): Omit<Target, 'datasource' | 'refId'>;
  collectorVariable(): string;
}

const COLLECTOR_FILTER_INFLUXQL = `${q('collector')} =~ /^$collector$/`;

const influxql: QueryBuilder = {
  successRate: () => ({
    targets: [
      {
        query:
          `SELECT count(${q('duration')}) AS ${q('runs')} FROM ${q('collector_run')} WHERE $timeFilter AND ` +
          `${COLLECTOR_FILTER_INFLUXQL} GROUP BY ${q('collector')}`,
        rawQuery: true,
        resultFormat: 'table',
      },
      {
        query:
          `SELECT count(${q('duration')}) AS ${q('succeeded')} FROM ${q('collector_run')} WHERE ${q('success')} = true AND ` +
          `$timeFilter AND ${COLLECTOR_FILTER_INFLUXQL} GROUP BY ${q('collector')}`,
        rawQuery: true,
        resultFormat: 'table',
      },
    ],
    // InfluxQL cannot average a boolean: count all runs and the successful ones, join the two
    // tables on the collector, divide
    transformations: [
      { id: 'joinByField', options: { byField: 'collector', mode: 'outer' } },
      {
        id: 'calculateField',
        options: {
          mode: 'binary',
          binary: { left: 'succeeded', operator: '/', right: 'runs' },
          alias: 'success rate',
          replaceFields: false,
        },
      },
      {
        id: 'organize',
        options: {
          excludeByName: { Time: true, 'Time 1': true, 'Time 2': true, succeeded: true },
          indexByName: { collector: 0, runs: 1, 'success rate': 2 },
        },
      },
    ],
  }),
  lastFailure: () => ({
    query:
      `SELECT last(${q('error')}) AS ${q('error')} FROM ${q('collector_run')} WHERE ${q('success')} = false AND $timeFilter AND ` +
      `${COLLECTOR_FILTER_INFLUXQL} GROUP BY ${q('collector')}`,
    rawQuery: true,
    resultFormat: 'table',
  }),
  runFields: (fields, fn) => ({
    query:
      `SELECT ${fields.map((f) => `${fn}(${q(f)}) AS ${q(f)}`).join(', ')} FROM ${q('collector_run')} ` +
      `WHERE $timeFilter AND ${COLLECTOR_FILTER_INFLUXQL} GROUP BY time($__interval), ${q('collector')} fill(none)`,
    rawQuery: true,
    resultFormat: 'time_series',
    alias: fields.length > 1 ? '$tag_collector $col' : '$tag_collector',
  }),
  measurement: (m, fields) => ({
    query:
      `SELECT ${fields.map((f) => `mean(${q(f.name)}) AS ${q(f.name)}`).join(', ')} FROM ${q(m.measurement)} ` +
      `WHERE $timeFilter GROUP BY time($__interval), ${m.tags.length ? m.tags.map(q).join(', ') : '*'} fill(none)`,
    rawQuery: true,
    resultFormat: 'time_series',
  }),
  collectorVariable: () => `SHOW TAG VALUES FROM ${q('collector_run')} WITH KEY = ${q('collector')}`,
};

const FLUX_RANGE = '|> range(start: v.timeRangeStart, stop: v.timeRangeStop)';
// biome-ignore lint/suspicious/noTemplateCurlyInString: ${collector:regex} is Grafana's template variable, which Grafana substitutes
const FLUX_COLLECTOR_FILTER = '|> filter(fn: (r) => r["collector"] =~ /^${collector:regex}$/)';
const fluxFrom = (measurement: string, fields: string[]) =>
  [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${bucket} is Grafana's template variable, which Grafana substitutes
    'from(bucket: "${bucket}")',
    `  ${FLUX_RANGE}`,
    `  |> filter(fn: (r) => r["_measurement"] == ${fluxString(measurement)})`,
    `  |> filter(fn: (r) => ${fields.map((f) => `r["_field"] == ${fluxString(f)}`).join(' or ')})`,
  ].join('\n');

const flux: QueryBuilder = {
  successRate: () => ({
    targets: [
      {
        query: [
          fluxFrom('collector_run', ['success']),
          `  ${FLUX_COLLECTOR_FILTER}`,
          '  |> map(fn: (r) => ({r with _value: if r._value then 1.0 else 0.0}))',
          '  |> group(columns: ["collector"])',
          '  |> reduce(identity: {runs: 0, succeeded: 0.0}, fn: (r, accumulator) => ({runs: accumulator.runs + 1, succeeded: ' +
            'accumulator.succeeded + r._value}))',
          '  |> map(fn: (r) => ({collector: r.collector, runs: r.runs, "success rate": r.succeeded / float(v: r.runs)}))',
          '  |> group()',
        ].join('\n'),
      },
    ],
    transformations: [],
  }),
  lastFailure: () => ({
    query: [
      fluxFrom('collector_run', ['success', 'error']),
      `  ${FLUX_COLLECTOR_FILTER}`,
      '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
      '  |> filter(fn: (r) => r["success"] == false)',
      '  |> group(columns: ["collector"])',
      '  |> last(column: "_time")',
      '  |> keep(columns: ["_time", "collector", "error"])',
      '  |> group()',
    ].join('\n'),
  }),
  runFields: (fields, fn) => ({
    query: [
      fluxFrom('collector_run', fields),
      `  ${FLUX_COLLECTOR_FILTER}`,
      '  |> group(columns: ["collector", "_field"])',
      `  |> aggregateWindow(every: v.windowPeriod, fn: ${fn}, createEmpty: false)`,
    ].join('\n'),
  }),
  measurement: (m, fields) => ({
    query: [
      fluxFrom(
        m.measurement,
        fields.map((f) => f.name),
      ),
      '  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)',
    ].join('\n'),
  }),
  collectorVariable: () =>
    [
      'import "influxdata/influxdb/schema"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${bucket} is Grafana's template variable, which Grafana substitutes
      'schema.tagValues(bucket: "${bucket}", tag: "collector", predicate: (r) => r["_measurement"] == "collector_run", start: -30d)',
    ].join('\n'),
};

const numeric = (f: FieldSpec) => f.type !== 'string' && f.type !== 'boolean';

/** The dashboard (see the module comment). Pure: same input, same JSON. */
export function generateDashboard(collectors: readonly CollectorMeasurements[], opts: DashboardOptions = {}): GrafanaDashboard {
  const language = opts.language ?? 'influxql';
  const build = language === 'flux' ? flux : influxql;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${datasource} is Grafana's template variable, which Grafana substitutes
  const datasource: DataSourceRef = { type: 'influxdb', uid: opts.datasource ?? '${datasource}' };
  let nextId = 1;
  const targets = (list: Array<Omit<Target, 'datasource' | 'refId'>>): Target[] =>
    list.map((t, i) => ({ refId: String.fromCharCode(65 + i), datasource, ...t }));
  const panel = (
    type: Panel['type'],
    title: string,
    description: string,
    gridPos: GridPos,
    list: Array<Omit<Target, 'datasource' | 'refId'>>,
    defaults: Panel['fieldConfig']['defaults'] = {},
    extra: Partial<Pick<Panel, 'transformations' | 'options'>> & { overrides?: FieldOverride[] } = {},
  ): Panel => ({
    id: nextId++,
    type,
    title,
    description,
    gridPos,
    datasource,
    targets: targets(list),
    fieldConfig: { defaults, overrides: extra.overrides ?? [] },
    options:
      extra.options ??
      (type === 'timeseries'
        ? {
            legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['max', 'lastNotNull'] },
            tooltip: { mode: 'multi', sort: 'desc' },
          }
        : { showHeader: true, cellHeight: 'sm' }),
    ...(extra.transformations ? { transformations: extra.transformations } : {}),
  });
  const red = (field: string): FieldOverride => ({
    matcher: { id: 'byRegexp', options: `.*${field}.*` },
    properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }],
  });

  const rate = build.successRate();
  const panels: Array<Panel | RowPanel> = [
    {
      id: nextId++,
      type: 'row',
      title: 'Collector health (collector_run)',
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y: 0 },
      panels: [],
    },
    panel(
      'table',
      'Runs and success rate',
      'Runs of each collector in the time range, and the share that succeeded (collector_run.success).',
      { h: 8, w: 9, x: 0, y: 1 },
      rate.targets,
      {},
      {
        transformations: rate.transformations,
        overrides: [
          {
            matcher: { id: 'byName', options: 'success rate' },
            properties: [
              { id: 'unit', value: 'percentunit' },
              { id: 'decimals', value: 1 },
            ],
          },
        ],
      },
    ),
    panel(
      'table',
      'Last failure',
      'The last failed run of each collector in the time range, with its error (collector_run.error).',
      { h: 8, w: 15, x: 9, y: 1 },
      [build.lastFailure()],
      {},
      {
        overrides: [{ matcher: { id: 'byName', options: 'error' }, properties: [{ id: 'custom.width', value: 600 }] }],
      },
    ),
    panel(
      'timeseries',
      'Run duration',
      'How long each run took, collecting and delivering (collector_run.duration).',
      { h: 8, w: 12, x: 0, y: 9 },
      [build.runFields(['duration'], 'mean')],
      { unit: 's', min: 0 },
    ),
    panel(
      'timeseries',
      'Points collected and written',
      'Points each collector produced, and those InfluxDB accepted (collector_run.points, collector_run.written).',
      { h: 8, w: 12, x: 12, y: 9 },
      [build.runFields(['points', 'written'], 'sum')],
      { min: 0 },
    ),
    panel(
      'timeseries',
      'Deferred to the outbox',
      'Points stored in the outbox because InfluxDB was unavailable; they are sent by a later run (collector_run.deferred). Alert ' +
        'when this stays above 0 for several runs.',
      { h: 8, w: 12, x: 0, y: 17 },
      [build.runFields(['deferred'], 'sum')],
      { min: 0 },
    ),
    panel(
      'timeseries',
      'Rejected and lost',
      'Points InfluxDB refused for their content (kept in the outbox rejected/ folder), and points lost (the outbox could not keep ' +
        'them). Alert on lost > 0.',
      { h: 8, w: 12, x: 12, y: 17 },
      [build.runFields(['rejected', 'lost'], 'sum')],
      { min: 0 },
      { overrides: [red('lost')] },
    ),
  ];

  let y = 25;
  for (const c of [...collectors].sort((a, b) => a.name.localeCompare(b.name))) {
    const inner: Panel[] = [];
    for (const m of c.measurements) {
      const fields = m.fields.filter(numeric);
      if (!fields.length) continue;
      inner.push(
        panel(
          'timeseries',
          m.measurement,
          `Collector ${c.name}: ${fields.map((f) => f.name).join(', ')} (mean per interval, one series per ` +
            `${m.tags.length ? m.tags.join(', ') : 'tag set'}), from its README.`,
          { h: 8, w: 12, x: (inner.length % 2) * 12, y: y + 1 + Math.floor(inner.length / 2) * 8 },
          [build.measurement(m, fields)],
        ),
      );
    }
    if (!inner.length) continue;
    panels.push({
      id: nextId++,
      type: 'row',
      title: `Collector ${c.name}`,
      collapsed: true,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: inner,
    });
    y += 1;
  }

  const list: Variable[] = [];
  if (opts.datasource === undefined) {
    list.push({ type: 'datasource', name: 'datasource', label: 'InfluxDB', query: 'influxdb', refresh: 1 });
  }
  if (language === 'flux') {
    const bucket = opts.bucket ?? 'metrics';
    list.push({ type: 'textbox', name: 'bucket', label: 'Bucket', query: bucket, current: { text: bucket, value: bucket } });
  }
  list.push({
    type: 'query',
    name: 'collector',
    label: 'Collector',
    datasource,
    query: build.collectorVariable(),
    refresh: 2,
    multi: true,
    includeAll: true,
    current: { text: 'All', value: '$__all' },
    sort: 1,
  });

  return {
    id: null,
    uid: opts.uid ?? 'influx-collectors',
    title: opts.title ?? 'Metrics collectors',
    description:
      `Health of the metrics collectors (collector_run) and what each collector writes; ` +
      `${language === 'flux' ? 'Flux' : 'InfluxQL'} queries. Generated by "metrics grafana dashboard".`,
    tags: ['influx-collectors'],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    time: { from: 'now-24h', to: 'now' },
    refresh: '1m',
    templating: { list },
    panels,
  };
}
