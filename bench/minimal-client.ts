/**
 * The baseline of the ingest row: a minimal client that POSTs a file of pre-built line protocol
 * to InfluxDB 1.x `/write`, in batches of N lines, one request after the other, on one keep-alive
 * connection, without gzip. `node dist/bench/minimal-client.js <url> <db> <file> <lines per batch>`
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

const [url, db, file, per] = process.argv.slice(2) as [string, string, string, string];
const data = readFileSync(file);
const perBatch = Number(per);
const agent = new Agent({ keepAlive: true });
const target = new URL(`/write?db=${encodeURIComponent(db)}&precision=ns`, url);

function post(body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let start = 0;
while (start < data.length) {
  let end = start;
  for (let k = 0; k < perBatch && end < data.length; k++) {
    const nl = data.indexOf(10, end);
    end = nl < 0 ? data.length : nl + 1;
  }
  await post(data.subarray(start, end));
  start = end;
}
agent.destroy();
