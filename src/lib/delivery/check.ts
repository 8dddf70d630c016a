/**
 * `metrics check`: is the configuration complete (the caller loads it), is InfluxDB reachable,
 * which version answered, are the credentials accepted, does the database or bucket exist. It
 * asks through the writer (the same transport, credentials and bounds as a write).
 */
import { HttpStatusError } from './transport.js';
import type { InfluxWriter } from './writer.js';

/** For `metrics check`: can we reach it, which version, are the credentials accepted, does the database exist. */
export async function checkInflux(writer: InfluxWriter): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  const info = await writer.ping();
  if (!info.reachable) {
    lines.push(info.local ? `request not sent to ${writer.config.url}: ${info.error}` : `unreachable: ${writer.config.url}: ${info.error}`);
    return { ok: false, lines };
  }
  lines.push(`reachable: ${writer.config.url} (version ${info.version ?? 'not reported'})`);
  const api = writer.apiInUse === 'auto' ? (info.version && /^v?1\./.test(info.version) ? 'v1' : 'v2') : writer.apiInUse;
  lines.push(`write API: ${api === 'v1' ? '/write (1.x)' : '/api/v2/write (2.x/3.x)'}`);
  try {
    if (api === 'v1') {
      const res = await writer.getJson<{ results?: Array<{ series?: Array<{ values?: string[][] }>; error?: string }> }>(
        `/query?${new URLSearchParams({ q: 'SHOW DATABASES' })}`,
        'v1',
      );
      const r = res.results?.[0];
      if (r?.error) throw new Error(r.error);
      lines.push('credentials: accepted');
      const db = writer.config.database ?? writer.config.bucket?.split('/')[0];
      const names = (r?.series?.[0]?.values ?? []).map((v) => v[0]);
      if (names.includes(db!)) lines.push(`database: ${db} exists`);
      else {
        lines.push(`database: ${db} does NOT exist (create it with: CREATE DATABASE "${db}")`);
        return { ok: false, lines };
      }
    } else {
      const q = new URLSearchParams({ name: writer.config.bucket ?? '' });
      if (writer.config.org) q.set('org', writer.config.org);
      const res = await writer.getJson<{ buckets?: Array<{ name: string }> }>(`/api/v2/buckets?${q}`, 'v2');
      lines.push('credentials: accepted');
      if (res.buckets?.some((b) => b.name === writer.config.bucket)) lines.push(`bucket: ${writer.config.bucket} exists`);
      else {
        lines.push(`bucket: ${writer.config.bucket} does NOT exist in org ${writer.config.org ?? '(default)'}`);
        return { ok: false, lines };
      }
    }
  } catch (error) {
    const status = error instanceof HttpStatusError ? error.statusCode : undefined;
    if (status === 401 || status === 403) lines.push(`credentials: REJECTED (${writer.describeError(error)})`);
    else lines.push(`check failed: ${writer.describeError(error)}`);
    return { ok: false, lines };
  }
  return { ok: true, lines };
}
