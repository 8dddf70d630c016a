/**
 * The self-metric: one point `collector_run` per collector run (tags `collector`, `host`; fields
 * success, duration, points, written, deferred, rejected, lost, error), so that a Grafana alert
 * can fire on a failing collector or a growing outbox.
 */
import { hostname } from 'node:os';
import type { Delivery } from '../delivery/delivery.js';
import { writePoints } from '../delivery/delivery.js';
import { errorMessage } from '../platform/errors.js';
import type { Logger } from '../platform/log.js';
import { redact } from '../platform/redact.js';
import { int, type PointObject } from '../points/point.js';
import type { RunReport } from './contract.js';

/**
 * One point per collector run, so that a Grafana alert can fire on a failing collector or a
 * growing outbox: measurement `collector_run`, tags `collector` and `host`.
 */
export function selfMetricPoint(report: RunReport): PointObject {
  return {
    measurement: 'collector_run',
    tags: { collector: report.collector, host: hostname() },
    fields: {
      success: report.ok,
      duration: Math.round(report.durationMs) / 1000,
      points: int(report.points),
      written: int(report.written),
      deferred: int(report.deferred),
      rejected: int(report.rejected),
      lost: int(report.lost),
      error: report.error ? redact(report.error.split('\n')[0]!).slice(0, 1000) : undefined,
    },
  };
}

/** Writes the run's `collector_run` point; a failure is logged, never thrown. */
export async function writeSelfMetric(delivery: Delivery, report: RunReport, log: Logger): Promise<void> {
  try {
    await writePoints([selfMetricPoint(report)], { collector: report.collector, log, delivery });
  } catch (error) {
    log.warn(`could not write the collector_run point: ${errorMessage(error)}`);
  }
}
