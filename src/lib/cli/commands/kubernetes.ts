/**
 * `metrics kubernetes generate [--out DIR] [names..]`: Kubernetes manifests for the collectors
 * (one CronJob each, a ConfigMap, state volumes, kustomization.yaml). Light at import: the work
 * is in ../kubernetes/, loaded by the handler.
 */
import type { Argv, CommandModule } from 'yargs';
import { settings } from '../context.js';

interface GenerateArgs {
  names: string[];
  out?: string;
  image?: string;
  'image-pull-policy': 'Always' | 'IfNotPresent' | 'Never';
  prefix: string;
  namespace?: string;
  state: 'pvc' | 'shared-pvc' | 'emptydir';
  'storage-class'?: string;
  'storage-size': string;
  'outbox-max-size': string;
  secret?: string;
  'secret-key': Array<'INFLUX_TOKEN' | 'INFLUXDB_PASSWORD'>;
  timeout: number;
  'active-deadline'?: number;
  spread: boolean;
}

function generateOptions<T>(y: Argv<T>): never {
  return y
    .positional('names', { type: 'string', array: true, default: [], describe: 'collectors (default: all, less METRICS_DISABLE)' })
    .option('out', {
      type: 'string',
      describe:
        'write one file per object and a kustomization.yaml into this directory (created if missing); default: print the objects as ' +
        'one YAML stream',
    })
    .option('image', {
      type: 'string',
      describe: 'container image (default: <package name>:<version>, as the README builds it from the Containerfile)',
    })
    .option('image-pull-policy', {
      choices: ['Always', 'IfNotPresent', 'Never'] as const,
      default: 'IfNotPresent' as const,
      describe: 'imagePullPolicy of the containers',
    })
    .option('prefix', {
      type: 'string',
      default: 'metrics',
      describe: 'name prefix of every object: <prefix>-<collector>, <prefix>-config',
    })
    .option('namespace', { type: 'string', describe: 'namespace: written into kustomization.yaml (the objects carry none)' })
    .option('state', {
      choices: ['pvc', 'shared-pvc', 'emptydir'] as const,
      default: 'pvc' as const,
      describe:
        'where the outbox and locks live: one ReadWriteOnce claim per collector, one ReadWriteMany claim for all, or an emptyDir ' +
        '(the outbox is lost when the pod ends)',
    })
    .option('storage-class', { type: 'string', describe: 'storageClassName of the claims (default: the cluster default)' })
    .option('storage-size', {
      type: 'string',
      default: '1Gi',
      describe: 'size of each claim (or the emptyDir limit), a Kubernetes quantity',
    })
    .option('outbox-max-size', {
      type: 'string',
      default: '256M',
      describe: 'METRICS_OUTBOX_MAX_SIZE in the ConfigMap (keep it below --storage-size)',
    })
    .option('secret', { type: 'string', describe: "the Secret with the credentials (default <prefix>-influx; '' for none)" })
    .option('secret-key', {
      choices: ['INFLUX_TOKEN', 'INFLUXDB_PASSWORD'] as const,
      array: true,
      default: ['INFLUX_TOKEN'] as Array<'INFLUX_TOKEN' | 'INFLUXDB_PASSWORD'>,
      describe: 'keys of the Secret, each mounted as a file read through <KEY>_FILE (repeatable)',
    })
    .option('timeout', { type: 'number', default: 600, describe: 'METRICS_TIMEOUT, the collector time limit in seconds (ConfigMap)' })
    .option('active-deadline', {
      type: 'number',
      describe: 'activeDeadlineSeconds of one run (default: --timeout + 300, as the systemd RuntimeMaxSec=15min)',
    })
    .option('spread', {
      type: 'boolean',
      default: false,
      describe: "offset each time-span schedule by a stable amount from the collector's name, so that collectors do not all start at once",
    })
    .example('$0 kubernetes generate --out k8s/', 'write the manifests and a kustomization.yaml into k8s/')
    .example('kubectl create secret generic metrics-influx --from-file=INFLUX_TOKEN=./token', 'the Secret with the token (a file)')
    .example('kubectl apply -k k8s/', 'then everything else (kustomize)')
    .example('$0 kubernetes generate sponsoring --image registry.example/ic:0.1.0 | kubectl apply -f -', 'one collector, another image')
    .epilog(
      'A cron RUN_INTERVAL becomes the CronJob schedule as it is (timeZone Etc/UTC). A time span becomes the nearest regular cron ' +
        'schedule (every 1-30 minutes, 1-12 hours, daily, weekly, monthly); ' +
        'when that is not exact a warning on stderr and a comment in the CronJob give the largest gap between runs. ' +
        'Under systemd a time span counts from the end of the previous run; a CronJob runs on the clock.',
    ) as never;
}

const generate: CommandModule<object, GenerateArgs> = {
  command: 'generate [names..]',
  describe: 'write Kubernetes manifests: a CronJob per collector, a ConfigMap, state volumes, a kustomization.yaml',
  builder: generateOptions,
  handler: async (args) => {
    const { discoverCollectors } = await import('../../run/discovery.js');
    const { repoRoot } = await import('../../platform/paths.js');
    const { pickCollectors } = await import('../../run/runner.js');
    const { defaultImage, generateKubernetes } = await import('../../kubernetes/manifests.js');
    const { UsageError } = await import('../../platform/errors.js');
    const { EXIT } = await import('../../platform/exit.js');
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    let image = args.image;
    if (image === undefined) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
      image = defaultImage(pkg);
    }
    if (args['active-deadline'] !== undefined && !Number.isInteger(args['active-deadline'])) {
      throw new UsageError(`--active-deadline ${args['active-deadline']} must be a whole number of seconds`);
    }
    const collectors = pickCollectors(await discoverCollectors(settings().run, { cheap: true }), args.names);
    if (!collectors.length)
      throw new UsageError('no collectors found: add a folder under src/collectors (see the README) and run npm run build');
    const gen = generateKubernetes(collectors, {
      image,
      imagePullPolicy: args['image-pull-policy'],
      prefix: args.prefix,
      namespace: args.namespace,
      state: args.state,
      storageClass: args['storage-class'],
      storageSize: args['storage-size'],
      outboxMaxSize: args['outbox-max-size'],
      secretName: args.secret,
      secretKeys: args['secret-key'],
      timeoutSec: args.timeout,
      activeDeadlineSec: args['active-deadline'],
      spread: args.spread,
    });
    for (const w of gen.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const s of gen.skipped) process.stderr.write(`error: no CronJob for ${s.name}: ${s.error}\n`);
    if (args.out !== undefined) {
      const { writeFileAtomic } = await import('../../platform/atomic.js');
      const { mkdir } = await import('node:fs/promises');
      const { resolve } = await import('node:path');
      const out = resolve(args.out);
      await mkdir(out, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
        throw new Error(`cannot create ${out}: ${error.code ?? error.message}; choose another --out directory`, { cause: error });
      });
      const files: Array<[string, string]> = [
        ...gen.manifests.map((m): [string, string] => [m.file, m.yaml]),
        ['kustomization.yaml', gen.kustomization],
      ];
      for (const [name, content] of files) {
        // a link planted in DIR is replaced, never written through (atomic.ts)
        await writeFileAtomic(join(out, name), content, { mode: 0o644 }).catch((error: NodeJS.ErrnoException) => {
          throw new Error(
            `cannot write ${join(out, name)}: ${error.code ?? error.message}; check that ${out} is a directory this user may write to`,
            { cause: error },
          );
        });
        process.stdout.write(`${join(out, name)}\n`);
      }
    } else {
      // one stream for `kubectl apply -f -` (the kustomization is not an object: only with --out)
      process.stdout.write(gen.manifests.map((m) => m.yaml).join('---\n'));
    }
    process.exitCode = gen.skipped.length ? EXIT.FAILED : EXIT.OK;
  },
};

export const command: CommandModule<object, object> = {
  command: 'kubernetes <command>',
  describe: 'generate Kubernetes manifests (one CronJob per collector)',
  builder: (y) => y.command(generate).demandCommand(1, 'name a kubernetes command: generate') as never,
  handler: () => {},
};
