// SPDX-License-Identifier: Apache-2.0
//
// A process that makes one TCP connect for the end-to-end tests, under a
// comm name the test chooses (process.title sets the kernel's comm).
// Usage: node connector.mjs COMM HOST PORT [--wait | --start-at EPOCH_MS] [--bind PORT] [--count N] [--abort-after MS]
//   --wait: print "ready", then connect when a line arrives on stdin.
//   --start-at: connect at that wall-clock time (processes started together run together).
//   --count: connect N times, one after another.
//   --abort-after: close the socket if it has not connected after MS ms ("ABORTED").
// Prints one JSON line: {"pid", "localPort", "localPorts", "error", "ms"}, then exits;
// ms: the last connect's wall time, from the call to its outcome.
import net from 'node:net';

const [comm, host, portText, ...rest] = process.argv.slice(2);
process.title = comm;
const bindAt = rest.indexOf('--bind');
const localPort = bindAt >= 0 ? Number(rest[bindAt + 1]) : undefined;

const countAt = rest.indexOf('--count');
let left = countAt >= 0 ? Number(rest[countAt + 1]) : 1;
const abortAt = rest.indexOf('--abort-after');
const abortMs = abortAt >= 0 ? Number(rest[abortAt + 1]) : undefined;
const localPorts = [];

function connect() {
  const started = performance.now();
  const sock = net.connect({ host, port: Number(portText), localPort });
  const timer = abortMs === undefined ? undefined : setTimeout(() => report('ABORTED'), abortMs);
  const report = (error) => {
    const ms = performance.now() - started;
    clearTimeout(timer);
    localPorts.push(sock.localPort ?? null);
    sock.destroy();
    if (--left > 0 && !error) return connect();
    process.stdout.write(`${JSON.stringify({ pid: process.pid, localPort: localPorts[0], localPorts, error, ms })}\n`);
    process.exit(0);
  };
  sock.on('connect', () => report(null));
  sock.on('error', (err) => report(err.code));
}

const startAt = rest.indexOf('--start-at');
if (rest.includes('--wait')) {
  process.stdout.write('ready\n');
  process.stdin.once('data', connect);
} else if (startAt >= 0) {
  setTimeout(connect, Math.max(0, Number(rest[startAt + 1]) - Date.now()));
} else {
  connect();
}
