// Serves a fetch-style handler over Node's HTTP server. A handler answering Response.error() (the
// sandbox's injected connection reset) has its socket destroyed, which clients see as a reset.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function serveFetchHandler(handle: (request: Request) => Promise<Response>, options: { port: number; host: string }): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
      const url = `http://${req.headers.host ?? `${options.host}:${options.port}`}${req.url ?? '/'}`;
      const request = new Request(url, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
      const response = await handle(request);
      if (response.type === 'error') {
        req.socket.destroy();
        return;
      }
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((v, k) => (responseHeaders[k] = v));
      res.writeHead(response.status, responseHeaders);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`sandbox error: ${(error as Error).message}`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${options.host}:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
