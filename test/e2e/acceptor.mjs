// SPDX-License-Identifier: Apache-2.0
//
// A process that accepts TCP connections for the tcpaccept tests, under a
// comm name the test chooses. Usage: node acceptor.mjs COMM HOST
// Prints {"pid","port"} when listening, then {"remotePort","localPort"} per
// connection it accepts; runs until killed.
import net from 'node:net';

const [comm, host] = process.argv.slice(2);
process.title = comm;
const server = net.createServer({ pauseOnConnect: true }, (sock) => {
  process.stdout.write(`${JSON.stringify({ remotePort: sock.remotePort, localPort: sock.localPort })}\n`);
  sock.destroy();
});
server.listen({ host, port: 0, ipv6Only: false }, () => {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, port: server.address().port })}\n`);
});
