import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that a test controls, to put a dependency (database, object store) out of
 * reach without touching it: `down()` closes the port and cuts every connection (connection refused),
 * `blackhole()` accepts connections and never forwards a byte (a hung server), `up()` forwards again
 * on the same port.
 */
export interface TcpProxy {
  port: number;
  up(): Promise<void>;
  down(): Promise<void>;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let mode: 'pass' | 'blackhole' = 'pass';
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode === 'blackhole') return;
    const upstream = net.connect(target);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (at: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const cutAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      cutAll();
    });

  const bound = await listen(port);
  return {
    port: bound,
    async up() {
      mode = 'pass';
      cutAll();
      if (!server.listening) await listen(bound);
    },
    down: stopListening,
    blackhole() {
      mode = 'blackhole';
      cutAll();
    },
    close: stopListening,
  };
}
