// SPDX-License-Identifier: Apache-2.0
//
// A process that makes one TCP connect for the end-to-end tests, under a
// comm name the test chooses (process.title sets the kernel's comm).
// Usage: node connector.mjs COMM HOST PORT [--wait] [--bind PORT] [--count N]
//   --wait: print "ready", then connect when a line arrives on stdin.
//   --count: connect N times, one after another.
// Prints one JSON line: {"pid", "localPort", "localPorts", "error"}, then exits.
import net from 'node:net';

const [comm, host, portText, ...rest] = process.argv.slice(2);
process.title = comm;
const bindAt = rest.indexOf('--bind');
const localPort = bindAt >= 0 ? Number(rest[bindAt + 1]) : undefined;

const countAt = rest.indexOf('--count');
let left = countAt >= 0 ? Number(rest[countAt + 1]) : 1;
const localPorts = [];

function connect() {
  const sock = net.connect({ host, port: Number(portText), localPort });
  const report = (error) => {
    localPorts.push(sock.localPort ?? null);
    sock.destroy();
    if (--left > 0 && !error) return connect();
    process.stdout.write(`${JSON.stringify({ pid: process.pid, localPort: localPorts[0], localPorts, error })}\n`);
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
