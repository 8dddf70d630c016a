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
import { type LoadedExchange, RecordingIndex, readRecordingSync } from '../../src/lib/platform/recording.js';
import { type HttpFixtureServer, startHttpFixtureServer } from './servers.js';

/** The exchanges of one recording folder (`requests.json` and its body files), each body also as `bodyText` (bytes). */
export function readRecording(dir: string): Array<LoadedExchange & { bodyText: Buffer }> {
  return readRecordingSync(dir).map((e) => ({ ...e, bodyText: e.bodyBytes }));
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

/** Starts a server for one or more recording folders (later folders add to earlier ones). */
export async function serveRecording(dirs: string | string[]): Promise<RecordingServer> {
  const recording = await RecordingIndex.open(dirs);
  const hosts = recording.hosts;
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
    const e = recording.next(req.method, wanted.toString());
    if (!e) {
      unmatched.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not in the recording: ${req.method} ${wanted.host}${wanted.pathname}${wanted.search}\n`);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(e.headers ?? {})) {
      // a rewritten body has another length: only a HEAD answer keeps the recorded one
      if (/^content-length$/i.test(name) && req.method !== 'HEAD') continue;
      headers[name] = /^(link|location)$/i.test(name) ? rewrite(value) : value;
    }
    const type = headers['content-type'] ?? '';
    const isText = type === '' || /json|text|html|xml|yaml|csv/i.test(type);
    res.writeHead(e.status, headers);
    res.end(req.method === 'HEAD' ? undefined : isText ? rewrite(e.bodyBytes.toString('utf8')) : e.bodyBytes);
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
