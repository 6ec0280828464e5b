import { createServer, type Server } from "node:net";

const host = "127.0.0.1";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `count` distinct free ports on 127.0.0.1. All are held open together before any is released, so they never
 * collide with each other; a process elsewhere may still take one before the component binds it, which the
 * component's start-up error then reports.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listen(0)));
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected address of a TCP listener");
    return addr.port;
  });
  await Promise.all(servers.map(close));
  return ports;
}

/** Throws a clear error if `port` on 127.0.0.1 cannot be bound. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  try {
    await close(await listen(port));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "EADDRINUSE"
        ? "is already in use"
        : code === "EACCES"
          ? "needs privileges"
          : `cannot be bound (${code})`;
    throw new Error(
      `port ${port} on ${host} for ${what} ${why}; choose another one or leave it out to get a free port`,
    );
  }
}
