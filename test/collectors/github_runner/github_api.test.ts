/**
 * github_runner's job lookup in the GitHub API (queue_duration for runner_start, job_conclusion
 * for runner_stop), as a user runs it (`bin/metrics run github_runner`), against a local server
 * answering in GitHub's documented shapes ("List jobs for a workflow run": a `jobs` array and
 * `total_count`, paged by the `Link` header; errors as `{"message", "documentation_url"}`; the rate
 * limit headers `Retry-After`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`). The same server
 * stands in for InfluxDB 1.x's `POST /write`.
 *
 * Every case checks the exact event lines of the metrics log: with the API answering, the two
 * fields are there; with it refusing, failing, slow or answering garbage, the same events are
 * issued without them, no event is lost, the run exits 0, and the cause is logged once.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { nextLink } from '../../../src/collectors/github_runner/github_api.js';
import {
  runCli,
  startHttpFixtureServer,
  type CliResult,
  type FixtureHandler,
  type FixtureRoutes,
  type HttpFixtureServer,
} from '../../helpers/servers.js';

const root = mkdtempSync(join(tmpdir(), 'github-api-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A token that can be recognised anywhere it leaks to. */
const TOKEN = 'ghs_T0kenThatMustNeverAppear1234567890';
const tokenDir = join(root, 'secret');
mkdirSync(tokenDir);
const tokenFile = join(tokenDir, 'github-token');
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

const RUN_PATH = '/repos/octo/widgets/actions/runs/4242/jobs';

/** Two runners of workflow run 4242 of octo/widgets: r1's job is on page 1, r2's on page 2. */
function storage(dir: string): string {
  const s = join(dir, 'storage');
  const runner = (name: string, files: Record<string, string>): void => {
    mkdirSync(join(s, name), { recursive: true });
    for (const [f, content] of Object.entries(files)) writeFileSync(join(s, name, f), content);
  };
  const pre = (timestamp: number) =>
    JSON.stringify({ timestamp, workflow: 'CI', workflow_run_id: '4242', repository: 'octo/widgets', event: 'push' });
  runner('r1', {
    'runner-installation-start.timestamp': '1700000000\n',
    'runner-installed.timestamp': '1700000100\n',
    'pre-job-metrics.json': pre(1700000200),
    'post-job-metrics.json': JSON.stringify({ timestamp: 1700000260, status: 'normal' }),
  });
  runner('r2', {
    'runner-installation-start.timestamp': '1700001000\n',
    'runner-installed.timestamp': '1700001100\n',
    'pre-job-metrics.json': pre(1700001150),
    'post-job-metrics.json': JSON.stringify({ timestamp: 1700001200, status: 'abnormal', status_info: { code: 1 } }),
  });
  return s;
}

const tags = '"flavor":"small","workflow":"CI","repo":"octo/widgets","github_event":"push"';
/** The events as the metrics log holds them; `r1`/`r2` add the API's fields. */
function expectedLines(r1: { start?: string; stop?: string } = {}, r2: { start?: string; stop?: string } = {}): string[] {
  return [
    '{"timestamp":1700000100,"event":"runner_installed","flavor":"small","duration":100}',
    `{"timestamp":1700000200,"event":"runner_start",${tags},"idle":100${r1.start ?? ''}}`,
    `{"timestamp":1700000260,"event":"runner_stop",${tags},"status":"normal","job_duration":60${r1.stop ?? ''}}`,
    '{"timestamp":1700001100,"event":"runner_installed","flavor":"small","duration":100}',
    `{"timestamp":1700001150,"event":"runner_start",${tags},"idle":50${r2.start ?? ''}}`,
    `{"timestamp":1700001200,"event":"runner_stop",${tags},"status":"abnormal","status_info":{"code":1},"job_duration":50${r2.stop ?? ''}}`,
  ];
}
const WITH_FIELDS = expectedLines(
  { start: ',"queue_duration":42.5', stop: ',"job_conclusion":"success"' },
  { start: ',"queue_duration":7', stop: ',"job_conclusion":"failure"' },
);
const WITHOUT_FIELDS = expectedLines();

/** A job of GitHub's "List jobs for a workflow run" answer. */
function job(id: number, runner: string | null, created: string, started: string, conclusion: string | null): object {
  return {
    id,
    run_id: 4242,
    run_url: 'https://api.github.com/repos/octo/widgets/actions/runs/4242',
    node_id: 'MDg6Q2hlY2tSdW40',
    head_sha: '009b8a3a9ccbb128af87f9b1c0f4c62e8a304f6d',
    url: `https://api.github.com/repos/octo/widgets/actions/jobs/${id}`,
    html_url: `https://github.com/octo/widgets/actions/runs/4242/job/${id}`,
    status: 'completed',
    conclusion,
    created_at: created,
    started_at: started,
    completed_at: '2023-11-14T22:20:00Z',
    name: `test (${id})`,
    steps: [{ name: 'Set up job', status: 'completed', conclusion: 'success', number: 1, started_at: started, completed_at: started }],
    check_run_url: `https://api.github.com/repos/octo/widgets/check-runs/${id}`,
    labels: ['self-hosted', 'small'],
    runner_id: id,
    runner_name: runner,
    runner_group_id: 1,
    runner_group_name: 'Default',
    workflow_name: 'CI',
    head_branch: 'main',
  };
}

const rateHeaders = { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4998', 'x-ratelimit-reset': '1700003600' };

/** Two pages: page 1 links to page 2 (rel="next", "last"), r1 on page 1, r2 on page 2. */
function pagedJobs(server: () => HttpFixtureServer, extraHeaders: Record<string, string> = {}): FixtureHandler {
  return (req, res) => {
    const page = req.query.get('page') ?? '1';
    const base = `${server().url}${RUN_PATH}?filter=latest&per_page=100`;
    const jobs =
      page === '1'
        ? [
            job(1, 'other-runner', '2023-11-14T22:00:00Z', '2023-11-14T22:00:01Z', 'success'),
            job(2, 'r1', '2023-11-14T22:10:00Z', '2023-11-14T22:10:42.500Z', 'success'),
          ]
        : [
            job(3, 'r2', '2023-11-14T22:30:00Z', '2023-11-14T22:30:07Z', 'failure'),
            job(4, null, '2023-11-14T22:30:00Z', '2023-11-14T22:30:00Z', null),
          ];
    const link =
      page === '1'
        ? `<${base}&page=2>; rel="next", <${base}&page=2>; rel="last"`
        : `<${base}&page=1>; rel="prev", <${base}&page=1>; rel="first"`;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', link, ...rateHeaders, ...extraHeaders });
    res.end(JSON.stringify({ total_count: 4, jobs }));
  };
}

interface Case {
  dir: string;
  server: HttpFixtureServer;
  result: CliResult;
  lines: string[];
  /** requests to the GitHub API (not the InfluxDB writes) */
  api: HttpFixtureServer['requests'];
  /** the line protocol written to the InfluxDB stand-in */
  written: string;
}

let seq = 0;
/** One run of the collector with the GitHub routes `routes` (and `POST /write` for InfluxDB) and `env` on top. */
async function runCase(
  routes: (server: () => HttpFixtureServer) => FixtureRoutes,
  env: Record<string, string | undefined> = {},
  args: string[] = [],
): Promise<Case> {
  const dir = join(root, `${++seq}`);
  mkdirSync(dir);
  let server: HttpFixtureServer | undefined;
  server = await startHttpFixtureServer({ 'POST /write': { status: 204 }, ...routes(() => server!) });
  try {
    const log = join(dir, 'metrics.log');
    const result = await runCli(['run', 'github_runner', ...args], {
      timeoutMs: 60_000,
      env: {
        STATE_DIRECTORY: join(dir, 'state'),
        METRICS_LOG_PATH: log,
        RUNNER_METRICS_STORAGE: storage(dir),
        RUNNER_FLAVOR: 'small',
        RUNNER_METRICS_MIN_AGE: '0',
        INFLUXDB_HOSTNAME: '127.0.0.1',
        INFLUXDB_PORT: String(server.port),
        INFLUXDB_DATABASE: 'runners',
        RUNNER_METRICS_GITHUB_API_URL: server.url,
        RUNNER_METRICS_GITHUB_TOKEN_FILE: tokenFile,
        ...env,
      },
    });
    const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    const api = server.requests.filter((r) => r.path !== '/write');
    const written = server.requests
      .filter((r) => r.path === '/write')
      .map((r) => r.text)
      .join('\n');
    return { dir, server, result, lines, api, written };
  } finally {
    await server.close();
  }
}

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** How many stderr lines match `re`. */
const count = (r: CliResult, re: RegExp): number => r.stderr.split('\n').filter((l) => re.test(l)).length;

/** Every file under `dir`, read. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push({ path: p, text: readFileSync(p, 'latin1') });
  }
  return out;
}

/** The checks every case shares: no event lost, exit 0, the folders gone, the token nowhere. */
function assertDelivered(c: Case, expected: string[]): void {
  assert.equal(c.result.code, 0, show(c.result));
  assert.deepEqual(c.lines, expected, show(c.result));
  assert.match(c.result.stderr, /events: 2 runner_installed, 2 runner_start, 2 runner_stop/, show(c.result));
  assert.deepEqual(readdirSync(join(c.dir, 'storage')), []);
  assert.equal((c.written.match(/^runner_(installed|start|stop),/gm) ?? []).length, 6, c.written);
  assertNoToken(c);
}

function assertNoToken(c: Case): void {
  for (const [what, text] of [
    ['stdout', c.result.stdout],
    ['stderr', c.result.stderr],
    ['the points written', c.written],
    ...filesUnder(c.dir).map((f) => [f.path, f.text]),
  ] as const) {
    assert.ok(!text.includes(TOKEN), `the token appears in ${what}`);
    assert.ok(!text.includes(Buffer.from(TOKEN).toString('base64').slice(0, 20)), `the token appears base64-encoded in ${what}`);
  }
}

/** The API requests carried the token as GitHub asks for it. */
function assertAsked(c: Case, pages: string[]): void {
  assert.deepEqual(
    c.api.map((r) => `${r.method} ${r.path} ${r.query.get('filter')} ${r.query.get('per_page')} ${r.query.get('page') ?? '1'}`),
    pages.map((p) => `GET ${RUN_PATH} latest 100 ${p}`),
  );
  for (const r of c.api) {
    assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(r.headers.accept, 'application/vnd.github+json');
    assert.equal(r.headers['x-github-api-version'], '2022-11-28');
  }
}

const githubError = (message: string) => ({ message, documentation_url: 'https://docs.github.com/rest' });

describe('github_runner: job metrics from the GitHub API', () => {
  test('happy path: the job on page 2 through the Link header; queue_duration and job_conclusion in both events', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }));
    assertDelivered(c, WITH_FIELDS);
    // r1 found on page 1, r2 on page 2: the pages read are kept for the run, none is read twice
    assertAsked(c, ['1', '2']);
    // as points: job_conclusion is a tag (a string field of the event), queue_duration a float field
    assert.match(c.written, /^runner_start,[^ ]*repo=octo\/widgets[^ ]* idle=100,queue_duration=42\.5 1700000200000000000$/m, c.written);
    assert.match(
      c.written,
      /^runner_stop,[^ ]*job_conclusion=failure[^ ]* status_info_code=1i,job_duration=50 1700001200000000000$/m,
      c.written,
    );
    assert.match(c.result.stderr, /GitHub jobs: 2 found, 0 not found, 0 runners without a lookup or whose lookup failed \(2 requests\)/);
    assert.doesNotMatch(c.result.stderr, /^(warn|error) /m, show(c.result));
  });

  test('--dry-run looks the jobs up too: the points shown carry the fields; nothing is written or removed', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), {}, ['--dry-run', '--format', 'lp']);
    assert.equal(c.result.code, 0, show(c.result));
    assert.match(c.result.stdout, /^runner_start,[^ ]* idle=100,queue_duration=42\.5 1700000200000000000$/m, show(c.result));
    assert.match(
      c.result.stdout,
      /^runner_stop,[^ ]*job_conclusion=failure[^ ]* status_info_code=1i,job_duration=50 1700001200000000000$/m,
    );
    assert.deepEqual(c.lines, []);
    assert.equal(c.written, '');
    assert.deepEqual(readdirSync(join(c.dir, 'storage')).sort(), ['r1', 'r2']);
    assertAsked(c, ['1', '2']);
    assertNoToken(c);
  });

  test('the job is not in the list: events without the fields, logged once for both runners', async () => {
    const c = await runCase(() => ({
      [RUN_PATH]: {
        headers: rateHeaders,
        body: { total_count: 1, jobs: [job(1, 'someone-else', '2023-11-14T22:00:00Z', '2023-11-14T22:00:01Z', 'success')] },
      },
    }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /no job of workflow run 4242 of octo\/widgets ran on it/), 1, show(c.result));
    assert.match(c.result.stderr, /GitHub jobs: 0 found, 2 not found/);
  });

  test('401: the token refused; no more requests in this run; logged once', async () => {
    const c = await runCase(() => ({
      // GitHub does not echo the token, but a proxy might: it must not reach any output
      [RUN_PATH]: { status: 401, body: githubError(`Bad credentials ${TOKEN}`) },
    }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /GitHub refused the token \(HTTP 401\)/), 1, show(c.result));
    assert.match(
      c.result.stderr,
      /^error \[github_runner\] GET http:\/\/127\.0\.0\.1:\d+\/repos\/octo\/widgets\/actions\/runs\/4242\/jobs: GitHub refused/m,
    );
  });

  test('403 with Retry-After (secondary rate limit): no more requests, no waiting; logged once', async () => {
    const c = await runCase(() => ({
      [RUN_PATH]: {
        status: 403,
        headers: { 'retry-after': '60' },
        body: githubError('You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'),
      },
    }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /rate limited by GitHub \(HTTP 403; retry after 60 s\)/), 1, show(c.result));
  });

  test('403 with X-RateLimit-Remaining: 0 (primary rate limit): logged once with the reset time', async () => {
    const c = await runCase(() => ({
      [RUN_PATH]: {
        status: 403,
        headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700003600' },
        body: githubError('API rate limit exceeded for installation ID 1.'),
      },
    }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /rate limited by GitHub \(HTTP 403; the limit resets at 2023-11-14T23:13:20\.000Z\)/), 1, show(c.result));
  });

  test('a page with X-RateLimit-Remaining: 0 is used, and no further page is asked for', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server, { 'x-ratelimit-remaining': '0' }) }));
    assertDelivered(c, expectedLines({ start: ',"queue_duration":42.5', stop: ',"job_conclusion":"success"' }));
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /the GitHub rate limit is used up \(X-RateLimit-Remaining: 0; the limit resets at /), 1, show(c.result));
  });

  test('X-RateLimit-Remaining: 0 on page 1 without the runners: page 2 is not asked for; no fields', async () => {
    const c = await runCase((server) => ({
      [RUN_PATH]: (req, res) => {
        if (req.query.get('page') === '2') return pagedJobs(server)(req, res);
        const base = `${server().url}${RUN_PATH}?filter=latest&per_page=100`;
        res.writeHead(200, { 'content-type': 'application/json', link: `<${base}&page=2>; rel="next"`, 'x-ratelimit-remaining': '0' });
        res.end(
          JSON.stringify({ total_count: 3, jobs: [job(1, 'other-runner', '2023-11-14T22:00:00Z', '2023-11-14T22:00:01Z', 'success')] }),
        );
      },
    }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /the GitHub rate limit is used up/), 1, show(c.result));
    assert.doesNotMatch(c.result.stderr, /no job of workflow run/);
  });

  test('403 without rate limit headers: the token lacks access to Actions; logged once', async () => {
    const c = await runCase(() => ({ [RUN_PATH]: { status: 403, body: githubError('Resource not accessible by integration') } }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /GitHub forbids it \(HTTP 403\): the token needs read access to Actions/), 1, show(c.result));
  });

  test('404: the run (or repository) unknown or invisible to the token; its other runner not asked again; logged once', async () => {
    const c = await runCase(() => ({ [RUN_PATH]: { status: 404, body: githubError('Not Found') } }));
    assertDelivered(c, WITHOUT_FIELDS);
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /not found \(HTTP 404\)/), 1, show(c.result));
  });

  test('a 5xx answer echoing the token: no more requests; the log line shows the answer redacted, never the token', async () => {
    const c = await runCase(() => ({
      [RUN_PATH]: { status: 502, headers: { 'content-type': 'text/plain' }, body: `upstream failed for Authorization: Bearer ${TOKEN}` },
    }));
    assertDelivered(c, WITHOUT_FIELDS); // includes: the token in no output, log, file or point
    assertAsked(c, ['1']);
    const line = new RegExp(
      /GitHub job lookup: GET http:\/\/127\.0\.0\.1:\d+\/repos\/octo\/widgets\/actions\/runs\/4242\/jobs\S* /.source +
        /failed: HTTP 502 .*Bearer \*\*\*/.source,
    );
    assert.equal(count(c.result, line), 1, show(c.result));
  });

  test('a slow server hits the per-request time limit: no more requests, the events go out without the fields', async () => {
    const c = await runCase(() => ({ [RUN_PATH]: { delayMs: 20_000, body: { total_count: 0, jobs: [] } } }), {
      RUNNER_METRICS_GITHUB_TIMEOUT: '0.3',
    });
    assertDelivered(c, WITHOUT_FIELDS);
    // at most one request (on a loaded machine the client may give up before the server has logged it); never a second
    assert.ok(c.api.length <= 1, `${c.api.length} requests`);
    assert.equal(count(c.result, /timed out after 0\.3 s/), 1, show(c.result));
  });

  test('a garbage body (an HTML page, then JSON of another shape): no fields, logged once', async () => {
    for (const body of ['<html><body>Sign in to the proxy</body></html>', JSON.stringify({ jobs: 'none' })]) {
      const c = await runCase(() => ({ [RUN_PATH]: { headers: { 'content-type': 'text/html' }, body } }));
      assertDelivered(c, WITHOUT_FIELDS);
      assertAsked(c, ['1']);
      assert.equal(count(c.result, /answered with something that is not GitHub's list of jobs/), 1, show(c.result));
    }
  });

  test('a Link header pointing elsewhere is not followed (the token would go there)', async () => {
    const c = await runCase(() => ({
      [RUN_PATH]: {
        headers: { link: '<https://attacker.example/steal?page=2>; rel="next"' },
        body: { total_count: 2, jobs: [job(2, 'r1', '2023-11-14T22:10:00Z', '2023-11-14T22:10:42.500Z', 'success')] },
      },
    }));
    assertDelivered(c, expectedLines({ start: ',"queue_duration":42.5', stop: ',"job_conclusion":"success"' }));
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /its Link header points outside/), 1, show(c.result));
  });

  test('RUNNER_METRICS_GITHUB_MAX_LOOKUPS bounds the lookups; the other runners go without the fields', async () => {
    const c = await runCase(
      () => ({
        [RUN_PATH]: {
          headers: rateHeaders,
          body: { total_count: 1, jobs: [job(2, 'r1', '2023-11-14T22:10:00Z', '2023-11-14T22:10:42.500Z', 'success')] },
        },
      }),
      { RUNNER_METRICS_GITHUB_MAX_LOOKUPS: '1' },
    );
    // r1's lookup read the whole list (one page, no Link): r2 is not in it, which needs no lookup
    assertDelivered(c, expectedLines({ start: ',"queue_duration":42.5', stop: ',"job_conclusion":"success"' }));
    assertAsked(c, ['1']);
  });

  test('RUNNER_METRICS_GITHUB_MAX_LOOKUPS: a runner whose list needs another request is not looked up', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), { RUNNER_METRICS_GITHUB_MAX_LOOKUPS: '1' });
    // r1 is on page 1; r2 would need page 2, a second lookup
    assertDelivered(c, expectedLines({ start: ',"queue_duration":42.5', stop: ',"job_conclusion":"success"' }));
    assertAsked(c, ['1']);
    assert.equal(count(c.result, /RUNNER_METRICS_GITHUB_MAX_LOOKUPS=1 GitHub job lookups done/), 1, show(c.result));
  });

  test('no token: no request, one info line, the events as before', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), { RUNNER_METRICS_GITHUB_TOKEN_FILE: undefined });
    assertDelivered(c, WITHOUT_FIELDS);
    assert.equal(c.api.length, 0);
    assert.equal(count(c.result, /^info \[github_runner\] no GitHub token \(RUNNER_METRICS_GITHUB_TOKEN_FILE/), 1, show(c.result));
  });

  test('a token from the systemd credential RUNNER_METRICS_GITHUB_TOKEN', async () => {
    const creds = join(root, 'credentials');
    mkdirSync(creds, { recursive: true });
    writeFileSync(join(creds, 'RUNNER_METRICS_GITHUB_TOKEN'), TOKEN);
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), {
      RUNNER_METRICS_GITHUB_TOKEN_FILE: undefined,
      CREDENTIALS_DIRECTORY: creds,
    });
    assertDelivered(c, WITH_FIELDS);
    assertAsked(c, ['1', '2']);
  });

  test('a token in the environment is refused (never printed); the events as before', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), {
      RUNNER_METRICS_GITHUB_TOKEN_FILE: undefined,
      RUNNER_METRICS_GITHUB_TOKEN: TOKEN,
    });
    assertDelivered(c, WITHOUT_FIELDS);
    assert.equal(c.api.length, 0);
    assert.equal(
      count(
        c.result,
        /^error \[github_runner\] GitHub job lookups are off for this run: RUNNER_METRICS_GITHUB_TOKEN is set in the environment/,
      ),
      1,
      show(c.result),
    );
  });

  test('RUNNER_METRICS_GITHUB_LOOKUP=false: no request and no line at the default level', async () => {
    const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), { RUNNER_METRICS_GITHUB_LOOKUP: 'false' });
    assertDelivered(c, WITHOUT_FIELDS);
    assert.equal(c.api.length, 0);
    assert.doesNotMatch(c.result.stderr, /GitHub/, show(c.result));
  });

  test('a bad setting of the lookup turns it off for the run (an error line), never the events', async () => {
    for (const [name, value] of [
      ['RUNNER_METRICS_GITHUB_TIMEOUT', 'soon'],
      ['RUNNER_METRICS_GITHUB_API_URL', 'http://github.example.com/api/v3'],
      ['RUNNER_METRICS_GITHUB_MAX_LOOKUPS', '0'],
    ] as const) {
      const c = await runCase((server) => ({ [RUN_PATH]: pagedJobs(server) }), { [name]: value });
      assertDelivered(c, WITHOUT_FIELDS);
      assert.equal(c.api.length, 0);
      assert.equal(
        count(c.result, new RegExp(`^error \\[github_runner\\] GitHub job lookups are off for this run: ${name}`)),
        1,
        show(c.result),
      );
    }
  });
});

test('nextLink: the rel="next" URL of a Link header', () => {
  const base = 'https://api.github.com/repositories/1/actions/runs/5/jobs?per_page=100';
  assert.equal(nextLink(`<${base}&page=2>; rel="next", <${base}&page=3>; rel="last"`), `${base}&page=2`);
  assert.equal(nextLink(`<${base}&page=1>; rel="prev", <${base}&page=3>; rel="next"`), `${base}&page=3`);
  assert.equal(nextLink(`<${base}&page=1>; rel="first"`), undefined);
  assert.equal(nextLink(null), undefined);
  assert.equal(nextLink('garbage'), undefined);
});
