import { createServer } from "node:http";
import type { Server } from "node:http";

/** The port is held by another process: whatever answers there is not this service. */
export class PortInUseError extends Error {
  override name = "PortInUseError";
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`port ${port} on ${host} is already in use by another process`);
  }
}

/**
 * An HTTP server already listening on `host:port` (0 picks a free port), with no request handler yet. Binding
 * before anything else starts means a taken port stops the start before it seeds or journals anything.
 */
export function listenHttp(host: string, port: number): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(error.code === "EADDRINUSE" ? new PortInUseError(host, port) : error));
    server.listen(port, host, () => resolve(server));
  });
}

/** `http://host:port` of a listening server, with the port the system chose for 0. */
export function serverUrl(server: Server): string {
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("the server is not listening on a TCP port");
  return `http://${address.address}:${address.port}`;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
