// Make.com as the webhook benchmark sees it: a node:http server in a process of its own that reads
// each delivery and answers 200, as a Make custom webhook does. In production Make is another
// company's server; the sandbox's built-in Make sink lives in our own process behind the whole HTTP
// app, so routing the benchmark's deliveries to it counted Make's side of every POST as ours.
// Prints `listening on <url>` once it listens; counts what it received (GET /count).
import { createServer } from 'node:http';

let received = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received }));
    return;
  }
  req.resume();
  req.on('end', () => {
    received += 1;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '8' });
    res.end('Accepted');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
