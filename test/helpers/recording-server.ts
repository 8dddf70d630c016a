/**
 * Serves a recording (the fixture format of `--record` / `--replay`: `requests.json` plus body
 * files, see the README's "Testing a collector") over real HTTP on a free loopback port, so that a
 * collector can be run as a whole process (`bin/metrics run <name> --dry-run`) against its
 * fixtures, with its source URLs pointed at the server.
 *
 * A recorded `https://<host>/<path>?<query>` is served at `<server>/<host>/<path>?<query>`
 * (`server.base('api.launchpad.net')` gives the prefix). Absolute links to a recorded host in the
 * bodies and in the Link and Location headers (a Launchpad `next_collection_link`, a GitHub `Link`
 * header) are rewritten to the server, so a collector that follows them stays on it. A request
 * that is not in the recording gets a 404 naming it and is listed in `unmatched`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HttpFixtureServer, startHttpFixtureServer } from './servers.js';

interface RecordedExchange {
  method: string;
  url: string;
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** where a recorded host is served: `http://127.0.0.1:<port>/<host>` */
  base(host: string): string;
  /** every request received, as `METHOD /host/path?query` */
  readonly requests: string[];
  /** the requests that were not in the recording (answered 404) */
  readonly unmatched: string[];
  close(): Promise<void>;
}

/** The exchanges of one recording folder (`requests.json` and its body files). */
export function readRecording(dir: string): Array<RecordedExchange & { bodyText: Buffer }> {
  const index = JSON.parse(readFileSync(join(dir, 'requests.json'), 'utf8')) as { format?: string; requests?: RecordedExchange[] };
  if (index.format !== 'metrics-recording/1' || !Array.isArray(index.requests)) {
    throw new Error(`${join(dir, 'requests.json')} is not a recording (format metrics-recording/1)`);
  }
  return index.requests.map((r) => ({ ...r, bodyText: r.body ? readFileSync(join(dir, r.body)) : Buffer.alloc(0) }));
}

function key(method: string, url: URL): string {
  return `${method.toUpperCase()} ${url.host}${url.pathname}${url.search}`;
}

/** Starts a server for one or more recording folders (later folders add to earlier ones). */
export async function serveRecording(dirs: string | string[]): Promise<RecordingServer> {
  const exchanges = (Array.isArray(dirs) ? dirs : [dirs]).flatMap((d) => readRecording(d));
  const byKey = new Map<string, Array<RecordedExchange & { bodyText: Buffer }>>();
  const hosts = new Set<string>();
  for (const e of exchanges) {
    const u = new URL(e.url);
    hosts.add(u.host);
    const k = key(e.method, u);
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }
  const served = new Map<string, number>();
  const requests: string[] = [];
  const unmatched: string[] = [];
  let server: HttpFixtureServer | undefined;
  const rewrite = (text: string): string => {
    let out = text;
    for (const h of hosts)
      out = out.replace(new RegExp(`https?://${h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'g'), `${server!.url}/${h}`);
    return out;
  };
  server = await startHttpFixtureServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const [host, ...rest] = req.url.slice(1).split('/');
    const wanted = new URL(`http://${host}/${rest.join('/')}`);
    const k = key(req.method, wanted);
    const list = byKey.get(k);
    if (!list) {
      unmatched.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not in the recording: ${k}\n`);
      return;
    }
    const n = served.get(k) ?? 0;
    served.set(k, n + 1);
    const e = list[Math.min(n, list.length - 1)]!;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(e.headers ?? {})) {
      // a rewritten body has another length: only a HEAD answer keeps the recorded one
      if (/^content-length$/i.test(name) && req.method !== 'HEAD') continue;
      headers[name] = /^(link|location)$/i.test(name) ? rewrite(value) : value;
    }
    const type = headers['content-type'] ?? '';
    const isText = type === '' || /json|text|html|xml|yaml|csv/i.test(type);
    res.writeHead(e.status, headers);
    res.end(req.method === 'HEAD' ? undefined : isText ? rewrite(e.bodyText.toString('utf8')) : e.bodyText);
  });
  const s = server;
  return {
    url: s.url,
    base: (host) => `${s.url}/${host}`,
    requests,
    unmatched,
    close: () => s.close(),
  };
}
