/**
 * TLS to InfluxDB, as a user meets it (`bin/metrics run system` against a local HTTPS server
 * playing InfluxDB 2.x's /ping and /api/v2/write, with certificates made by openssl): an untrusted
 * certificate fails the run at once (exit 1: waiting cannot fix a certificate) with a hint naming
 * INFLUX_CA_FILE; INFLUX_CA_FILE with the certificate makes it work; a trusted certificate that
 * does not name the address is refused too. With INFLUX_API_VERSION unset (auto) and =2.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findBinary, runCli, type CliResult } from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'tls-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
function fresh(name: string): string {
  const d = join(root, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

async function tlsCase(t: { skip(m?: string): void }, api: string | undefined): Promise<void> {
  const openssl = findBinary('openssl');
  if (!openssl) {
    if (process.env.CI === 'true') throw new Error('openssl is required in CI: install Debian package openssl');
    process.stderr.write('\n*** SKIPPED: openssl not found; install Debian package openssl ***\n\n');
    return t.skip('openssl missing');
  }
  const dir = fresh('tls');
  const makeCert = (name: string, san: boolean): { key: string; cert: string } => {
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.pem`);
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert];
    if (san) args.push('-addext', 'subjectAltName=IP:127.0.0.1');
    const r = spawnSync(openssl, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `openssl ${args.join(' ')}:\n${r.stderr}`);
    return { key, cert };
  };
  const startHttps = async (pair: { key: string; cert: string }) => {
    const requests: Array<{ method: string; url: string; body: string }> = [];
    const server = createHttpsServer({ key: readFileSync(pair.key), cert: readFileSync(pair.cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
        if (req.url?.startsWith('/ping')) res.writeHead(204, { 'x-influxdb-version': 'v2.7.1' }).end();
        else if (req.method === 'POST' && req.url?.startsWith('/api/v2/write')) res.writeHead(204).end();
        else res.writeHead(404).end('not found');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `https://127.0.0.1:${port}`,
      requests,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  };
  const good = makeCert('ip', true);
  const noSan = makeCert('cn-only', false);
  const srv = await startHttps(good);
  const srvNoSan = await startHttps(noSan);
  try {
    const base = { INFLUX_TOKEN: 'tok', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b', INFLUX_MAX_RETRIES: '0' };
    const problems: string[] = [];
    const check = (ok: boolean, msg: string): void => {
      if (!ok) problems.push(msg);
    };
    const what = `INFLUX_API_VERSION=${api ?? '(auto)'}`;
    // not trusted: exit 1 (waiting cannot fix a certificate), and say what to set
    const r1 = await runCli(['run', 'system'], {
      env: { ...base, INFLUX_API_VERSION: api, INFLUX_URL: srv.url, METRICS_STATE_DIR: fresh('tls-state') },
    });
    check(r1.code === 1, `${what}, self-signed certificate, no INFLUX_CA_FILE: expected exit 1\n${show(r1)}`);
    check(/INFLUX_CA_FILE/.test(r1.stderr), `${what}: no INFLUX_CA_FILE hint\n${show(r1)}`);
    // trusted, and the name matches: written
    const r2 = await runCli(['run', 'system'], {
      env: { ...base, INFLUX_API_VERSION: api, INFLUX_URL: srv.url, INFLUX_CA_FILE: good.cert, METRICS_STATE_DIR: fresh('tls-state') },
    });
    check(r2.code === 0, `${what}, INFLUX_CA_FILE=<the cert>: expected exit 0\n${show(r2)}`);
    // trusted, but the certificate names localhost only: exit 1 too
    const r3 = await runCli(['run', 'system'], {
      env: {
        ...base,
        INFLUX_API_VERSION: api,
        INFLUX_URL: srvNoSan.url,
        INFLUX_CA_FILE: noSan.cert,
        METRICS_STATE_DIR: fresh('tls-state'),
      },
    });
    check(r3.code === 1, `${what}, certificate without IP:127.0.0.1 (CN=localhost only): expected exit 1\n${show(r3)}`);
    assert.deepEqual(problems, [], problems.join('\n=====\n'));
    const writes = srv.requests.filter((q) => q.method === 'POST' && q.url.startsWith('/api/v2/write'));
    assert.ok(writes.length >= 1, JSON.stringify(srv.requests.map((q) => `${q.method} ${q.url}`)));
    assert.ok(
      writes.some((w) => /^system_|^system[, ]|collector_run/m.test(w.body)),
      writes.map((w) => w.body).join('\n---\n'),
    );
    assert.equal(srvNoSan.requests.length, 0, 'a request went through a certificate with the wrong name');
  } finally {
    await srv.close();
    await srvNoSan.close();
  }
}

test(
  'TLS with INFLUX_API_VERSION unset (auto): untrusted certificate → exit 1 with INFLUX_CA_FILE hint; ' + 'INFLUX_CA_FILE → written',
  (t) => tlsCase(t, undefined),
);

test('TLS with INFLUX_API_VERSION=2: untrusted certificate → exit 1 with INFLUX_CA_FILE hint; INFLUX_CA_FILE → written', (t) =>
  tlsCase(t, '2'));
