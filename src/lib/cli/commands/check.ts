import type { CommandModule } from 'yargs';
import { settings } from '../context.js';

export const command: CommandModule<object, object> = {
  command: 'check',
  describe: 'check the configuration: complete? InfluxDB reachable, which version, credentials accepted, database/bucket present?',
  builder: (y) => y as never,
  handler: async () => {
    const { describeTarget } = await import('../../platform/settings.js');
    const { createLogger } = await import('../../platform/log.js');
    const { EXIT } = await import('../../platform/exit.js');
    const { redact } = await import('../../platform/redact.js');
    const config = settings().influx(); // ConfigError → exit 2 naming the variables
    const { InfluxWriter } = await import('../../delivery/writer.js');
    const { checkInflux } = await import('../../delivery/check.js');
    const writer = new InfluxWriter(config, { log: createLogger({}) });
    process.stdout.write(`configuration: complete (${describeTarget(config)})\n`);
    const result = await checkInflux(writer);
    process.stdout.write(redact(result.lines.join('\n')) + '\n');
    process.exitCode = result.ok ? EXIT.OK : EXIT.FAILED;
  },
};
