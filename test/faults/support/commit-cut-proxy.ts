import net from 'node:net';

/**
 * A TCP proxy in front of a database server that, once armed, lets the next COMMIT through to the
 * server and then cuts that connection without passing the server's answer back: the transaction is
 * committed, and the client only sees its connection drop. What a network failure or a failover at
 * the wrong moment does.
 */
export interface CommitCutProxy {
  port: number;
  /** Cuts the connection that sends the next COMMIT; resolves once it has been cut. */
  cutNextCommit(): Promise<void>;
  close(): Promise<void>;
}

const COMMIT = /\bcommit\b/i;

export async function startCommitCutProxy(target: { host: string; port: number }): Promise<CommitCutProxy> {
  const sockets = new Set<net.Socket>();
  let armed: (() => void) | undefined;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    const upstream = net.connect(target);
    track(upstream);
    let deaf = false;
    client.on('data', (chunk: Buffer) => {
      const cut = armed;
      if (cut && COMMIT.test(chunk.toString('latin1'))) {
        armed = undefined;
        deaf = true;
        upstream.write(chunk);
        // Time for the server to commit; then the client loses the connection, answer unseen.
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
          cut();
        }, 500);
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!deaf) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
  return {
    port,
    cutNextCommit: () => new Promise<void>((resolve) => (armed = resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
