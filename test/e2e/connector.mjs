// SPDX-License-Identifier: Apache-2.0
//
// A process that makes one TCP connect for the end-to-end tests, under a
// comm name the test chooses (process.title sets the kernel's comm).
// Usage: node connector.mjs COMM HOST PORT [--wait] [--bind PORT]
//   --wait: print "ready", then connect when a line arrives on stdin.
// Prints one JSON line: {"pid", "localPort", "error"}, then exits.
import net from 'node:net';

const [comm, host, portText, ...rest] = process.argv.slice(2);
process.title = comm;
const bindAt = rest.indexOf('--bind');
const localPort = bindAt >= 0 ? Number(rest[bindAt + 1]) : undefined;

function connect() {
  const sock = net.connect({ host, port: Number(portText), localPort });
  const report = (error) => {
    process.stdout.write(`${JSON.stringify({ pid: process.pid, localPort: sock.localPort ?? null, error })}\n`);
    sock.destroy();
    process.exit(0);
  };
  sock.on('connect', () => report(null));
  sock.on('error', (err) => report(err.code));
}

if (rest.includes('--wait')) {
  process.stdout.write('ready\n');
  process.stdin.once('data', connect);
} else {
  connect();
}
