// SPDX-License-Identifier: Apache-2.0
//
// tcpaccept end to end: listeners in child processes with known PID and
// comm, real clients, exact rows.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, expect, it } from 'vitest';
import {
  ACCEPT_CLI,
  ATTACH,
  describeE2E,
  NOBODY,
  ourPrograms,
  ourProgramsAfterExit,
  stopAll,
  ToolRun,
} from './harness.js';

const ACCEPTOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'acceptor.mjs');
const HEADER = 'PID     COMM         IP RADDR            RPORT LADDR            LPORT';

interface Acceptor {
  pid: number;
  port: number;
  /** the next connection it accepted: the client's port */
  accepted(): Promise<{ remotePort: number; localPort: number }>;
  child: ChildProcess;
}

const children: ChildProcess[] = [];

async function acceptor(comm: string, host: string): Promise<Acceptor> {
  const child = spawn(process.execPath, [ACCEPTOR, comm, host], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiting: Array<() => void> = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiting.splice(0).forEach((w) => w());
    }
  });
  const next = async () => {
    while (!lines.length) await new Promise<void>((r) => waiting.push(r));
    return JSON.parse(lines.shift()!);
  };
  const { pid, port } = await next();
  return { pid, port, accepted: next, child };
}

function connect(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => {
      resolve(s.localPort!);
      s.destroy();
    });
    s.on('error', reject);
  });
}

/** bcc's row: "%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d" */
const row = (pid: number, comm: string, ip: number, raddr: string, rport: number, laddr: string, lport: number) =>
  `${String(pid).padEnd(7)} ${comm.slice(0, 12).padEnd(12)} ${String(ip).padEnd(2)} ${raddr.padEnd(16)} ${String(rport).padEnd(5)} ${laddr.padEnd(16)} ${String(lport).padEnd(5)}`;

describeE2E('tcpaccept end to end', () => {
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await stopAll();
  });

  const start = (args: string[]) => ToolRun.start([...args, ...ATTACH], 1, ACCEPT_CLI);

  it('prints bcc rows for IPv4, IPv6 and a v4-mapped client of a dual-stack listener', async () => {
    const tool = await start([]);
    expect(tool.stdout).toBe(`${HEADER}\n`);
    const v4 = await acceptor('tcpa-v4-accepter', '127.0.0.1');
    const v6 = await acceptor('tcpa-v6', '::1');
    const dual = await acceptor('tcpa-dual', '::');
    const c4 = await connect('127.0.0.1', v4.port);
    await v4.accepted();
    const c6 = await connect('::1', v6.port);
    await v6.accepted();
    const cm = await connect('127.0.0.1', dual.port);
    await dual.accepted();
    const want = [
      row(v4.pid, 'tcpa-v4-accepter', 4, '127.0.0.1', c4, '127.0.0.1', v4.port),
      row(v6.pid, 'tcpa-v6', 6, '::1', c6, '::1', v6.port),
      row(dual.pid, 'tcpa-dual', 6, '::ffff:127.0.0.1', cm, '::ffff:127.0.0.1', dual.port),
    ];
    await tool.waitUntil(() => want.every((w) => tool.rows().includes(w)));
    const done = await tool.stop('SIGINT');
    expect(done.code).toBe(0);
    expect(tool.rows().filter((r) => r.includes('tcpa-'))).toEqual(want);
    expect(done.stderr).toMatch(/^tcpaccept: tracing with (kretprobe on inet_csk_accept|tracepoints syscalls)/);
  });

  it('sees an accept() that was already waiting when tracing started, once', async () => {
    // Python's accept() blocks in the call; Node's acceptor never waits in one.
    const script = [
      'import socket',
      's = socket.socket()',
      "s.bind(('127.0.0.1', 0))",
      's.listen(1)',
      'print(s.getsockname()[1], flush=True)',
      'c, a = s.accept()',
      'c.close()',
    ].join('\n');
    const py = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(py);
    const port = Number(await new Promise<string>((r) => py.stdout!.once('data', (d) => r(String(d)))));
    await new Promise((r) => setTimeout(r, 300)); // inside accept() now
    const tool = await start([]);
    const client = await connect('127.0.0.1', port);
    const want = row(py.pid!, 'python3', 4, '127.0.0.1', client, '127.0.0.1', port);
    await tool.waitUntil(() => tool.rows().includes(want));
    await new Promise((r) => setTimeout(r, 200)); // a second row would show by now
    const done = await tool.stop();
    expect(tool.rows().filter((r) => r.startsWith(`${py.pid} `))).toEqual([want]);
    expect(done.code).toBe(0);
  });

  it('with -T -t prints the wall clock and seconds since the first row', async () => {
    const tool = await start(['-T', '-t']);
    expect(tool.stdout).toBe(`TIME     TIME(s)  ${HEADER}\n`);
    const a = await acceptor('tcpa-time', '127.0.0.1');
    const c1 = await connect('127.0.0.1', a.port);
    await a.accepted();
    const c2 = await connect('127.0.0.1', a.port);
    await a.accepted();
    await tool.waitUntil(() => tool.rows().length >= 2);
    await tool.stop();
    const [r1, r2] = tool.rows();
    expect(r1).toMatch(/^\d\d:\d\d:\d\d 0\.000 {4}/);
    expect(r1.slice(18)).toBe(row(a.pid, 'tcpa-time', 4, '127.0.0.1', c1, '127.0.0.1', a.port));
    expect(r2).toMatch(/^\d\d:\d\d:\d\d \d+\.\d{3} +/);
    expect(r2.slice(18)).toBe(row(a.pid, 'tcpa-time', 4, '127.0.0.1', c2, '127.0.0.1', a.port));
  });

  it('with -P, -p, -4 and -6 traces only what they name', async () => {
    const a = await acceptor('tcpa-f-a', '127.0.0.1');
    const b = await acceptor('tcpa-f-b', '127.0.0.1');
    const six = await acceptor('tcpa-f-six', '::1');
    const byPort = await start(['-P', `${b.port},1`]);
    const byPid = await start(['-p', String(a.pid)]);
    const only4 = await start(['-4']);
    const only6 = await start(['-6']);
    const ca = await connect('127.0.0.1', a.port);
    await a.accepted();
    const cb = await connect('127.0.0.1', b.port);
    await b.accepted();
    const c6 = await connect('::1', six.port);
    await six.accepted();
    await only6.waitUntil(() => only6.rows().some((r) => r.includes('tcpa-f-six')));
    await only4.waitUntil(() => only4.rows().some((r) => r.includes('tcpa-f-b')));
    for (const t of [byPort, byPid, only4, only6]) await t.stop();
    const rowA = row(a.pid, 'tcpa-f-a', 4, '127.0.0.1', ca, '127.0.0.1', a.port);
    const rowB = row(b.pid, 'tcpa-f-b', 4, '127.0.0.1', cb, '127.0.0.1', b.port);
    const row6 = row(six.pid, 'tcpa-f-six', 6, '::1', c6, '::1', six.port);
    const ours = (t: ToolRun) => t.rows().filter((r) => r.includes('tcpa-f-'));
    expect(ours(byPort)).toEqual([rowB]);
    expect(ours(byPid)).toEqual([rowA]);
    expect(ours(only4)).toEqual([rowA, rowB]);
    expect(ours(only6)).toEqual([row6]);
  });

  it('ends with exit 0 on SIGTERM and on a closed pipe, leaving nothing loaded', async () => {
    const tool = await start([]);
    expect(ourPrograms().length).toBeGreaterThan(0);
    expect((await tool.stop('SIGTERM')).code).toBe(0);

    const a = await acceptor('tcpa-head', '127.0.0.1');
    const pipeline = spawn(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" "${ACCEPT_CLI}" ${ATTACH.join(' ')} | head -n 2`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    pipeline.stdout.on('data', (d) => (out += d));
    let code: number | null | undefined;
    const exited = new Promise<number | null>((r) => pipeline.on('close', (c) => r((code = c))));
    // Connect until head has its rows and the tool notices (start-up is slow under emulation).
    for (const deadline = Date.now() + 45000; code === undefined && Date.now() < deadline; ) {
      await connect('127.0.0.1', a.port).catch(() => 0);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await exited).toBe(0);
    expect(out.split('\n')[1]).toMatch(/tcpa-head/);
    expect(await ourProgramsAfterExit()).toEqual([]);
  }, 90000);

  it('attaches its syscall tracepoints with or without a mounted tracefs, and leaves the mounts as they were', async () => {
    // Less the kernel's automount of tracefs under a mounted debugfs, which
    // any look at /sys/kernel/debug/tracing makes (libbpf's first).
    const mounts = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => !l.includes(' /sys/kernel/debug/tracing '))
        .join('\n');
    const before = mounts();
    const a = await acceptor('tcpa-tracefs', '127.0.0.1');
    // In a mount namespace of its own, one run sees tracefs mounted (libbpf
    // finds the ids) and one sees none (the addon reads them from a tracefs
    // of its own, in a namespace of its own); then one in the test's own.
    const tool = `exec "${process.execPath}" "${ACCEPT_CLI}" --attach tracepoint`;
    const ownMounts = (script: string) => ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]] as const;
    const runs = [
      ownMounts(`mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing; ${tool}`),
      ownMounts(`umount -l /sys/kernel/debug 2>/dev/null; umount -l /sys/kernel/tracing 2>/dev/null; ${tool}`),
      [process.execPath, [ACCEPT_CLI, '--attach', 'tracepoint']] as const,
    ];
    for (const [command, args] of runs) {
      const run = await ToolRun.spawn(command, [...args], 1);
      const client = await connect('127.0.0.1', a.port);
      await a.accepted();
      const want = row(a.pid, 'tcpa-tracefs', 4, '127.0.0.1', client, '127.0.0.1', a.port);
      await run.waitUntil(() => run.rows().includes(want));
      const done = await run.stop();
      expect([done.code, done.stderr]).toEqual([
        0,
        expect.stringMatching(/^tcpaccept: tracing with tracepoints syscalls:sys_exit_accept4/),
      ]);
    }
    expect(mounts()).toBe(before);
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it('exits 2 on bad input and 1 when not root, with one line', () => {
    const bad = spawnSync(process.execPath, [ACCEPT_CLI, '-P', '80,,81'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^usage: tcpaccept /);
    expect(bad.stderr.trim().split('\n').pop()).toBe(
      "tcpaccept: error: argument -P/--port: empty port in list '80,,81'",
    );
    const both = spawnSync(process.execPath, [ACCEPT_CLI, '-4', '-6'], { encoding: 'utf8' });
    expect([both.status, both.stderr.trim().split('\n').pop()]).toEqual([
      2,
      'tcpaccept: error: argument -6/--ipv6: not allowed with argument -4/--ipv4',
    ]);
    const user = spawnSync(process.execPath, [ACCEPT_CLI], { encoding: 'utf8', uid: NOBODY });
    expect([user.status, user.stderr]).toEqual([1, 'tcpaccept: must be run as root (try: sudo tcpaccept)\n']);
  });
});
