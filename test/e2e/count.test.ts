// SPDX-License-Identifier: Apache-2.0
//
// -c end to end: a known number of real connects, then a signal, then the
// exact table.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { ATTACH, armedConnector, connectFrom, describeE2E, listeners, stopAll, ToolRun } from './harness.js';

const HEADER = 'LADDR                     RADDR                     RPORT                CONNECTS  ';
const row = (saddr: string, daddr: string, port: number, n: number) =>
  `${saddr.padEnd(25)} ${daddr.padEnd(25)} ${String(port).padEnd(20)} ${String(n).padEnd(10)}`;

async function connects(host: string, port: number, n: number, comm = 'tcpc-count'): Promise<void> {
  for (let i = 0; i < n; i++) await connectFrom(comm, host, port);
}

/** The table rows of our listeners' ports only (the machine may connect elsewhere meanwhile). */
function tableRows(stdout: string, ports: number[]): string[] {
  return stdout
    .split('\n')
    .slice(3)
    .filter((l) => ports.some((p) => l.includes(` ${p} `)));
}

describeE2E('tcpconnect -c end to end', () => {
  let a: Awaited<ReturnType<typeof listeners>>;
  let b: Awaited<ReturnType<typeof listeners>>;
  beforeAll(async () => {
    [a, b] = await Promise.all([listeners(), listeners()]);
  });
  afterAll(() => {
    a?.close();
    b?.close();
  });
  afterEach(stopAll);

  it('counts per source, destination and port, highest first, IPv4 before IPv6, printed at SIGINT', async () => {
    const tool = await ToolRun.start(['-c', ...ATTACH], 1);
    await connects('127.0.0.1', a.v4, 3);
    await connects('127.0.0.1', b.v4, 1);
    await connects('::1', a.v6, 2);
    await connects('::ffff:127.0.0.1', b.v4, 4); // v4-mapped: counted as IPv4
    await connects('::1', b.v6, 5);
    await new Promise((r) => setTimeout(r, 200));
    expect(tool.stdout).toBe('Tracing connect ... Hit Ctrl-C to end\n'); // nothing before the signal
    const done = await tool.stop('SIGINT');
    expect(done.code).toBe(0);
    const lines = done.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual(['Tracing connect ... Hit Ctrl-C to end', '', HEADER]);
    expect(tableRows(done.stdout, [a.v4, b.v4, a.v6, b.v6])).toEqual([
      row('127.0.0.1', '127.0.0.1', b.v4, 5),
      row('127.0.0.1', '127.0.0.1', a.v4, 3),
      row('::1', '::1', b.v6, 5),
      row('::1', '::1', a.v6, 2),
    ]);
    expect(done.stdout.endsWith('\n')).toBe(true);
  });

  it('applies -P, -4 and -p to what is counted, ignores -t -U -L, and prints at SIGTERM', async () => {
    const armed = await armedConnector('tcpc-count-p', '127.0.0.1', a.v4);
    const byPid = await ToolRun.start(['-c', '-t', '-U', '-L', '-p', String(armed.pid), ...ATTACH], 1);
    const byPort = await ToolRun.start(['-c', '-4', '-P', `${b.v4},${b.v6}`, ...ATTACH], 1);
    await armed.fire();
    await connects('127.0.0.1', a.v4, 2);
    await connects('127.0.0.1', b.v4, 3);
    await connects('::1', b.v6, 2);
    const [pid, port] = await Promise.all([byPid.stop('SIGTERM'), byPort.stop('SIGTERM')]);
    expect([pid.code, port.code]).toEqual([0, 0]);
    expect(pid.stdout).toBe(
      `Tracing connect ... Hit Ctrl-C to end\n\n${HEADER}\n${row('127.0.0.1', '127.0.0.1', a.v4, 1)}\n`,
    );
    expect(port.stdout).toBe(
      `Tracing connect ... Hit Ctrl-C to end\n\n${HEADER}\n${row('127.0.0.1', '127.0.0.1', b.v4, 3)}\n`,
    );
  });
});
