/**
 * A throttling TCP proxy for the gzip rows: a slowed link between the client and InfluxDB on this
 * machine. Bytes from the client to the server pass at most at `bytesPerSecond` (paced in 10 ms
 * slices); answers pass unthrottled.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Throttle {
  port: number;
  close(): Promise<void>;
}

export async function startThrottle(target: { host: string; port: number }, bytesPerSecond: number): Promise<Throttle> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.pipe(client);
    // client -> server: paced
    let nextFree = Date.now();
    client.on('data', (chunk: Buffer) => {
      client.pause();
      const slice = Math.max(1, Math.floor(bytesPerSecond / 100));
      let offset = 0;
      const pass = () => {
        if (offset >= chunk.length) {
          client.resume();
          return;
        }
        const part = chunk.subarray(offset, offset + slice);
        offset += part.length;
        // the slice arrives when the link has carried it
        nextFree = Math.max(nextFree, Date.now()) + (part.length / bytesPerSecond) * 1000;
        setTimeout(
          () => {
            upstream.write(part);
            pass();
          },
          Math.max(0, nextFree - Date.now()),
        );
      };
      pass();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
