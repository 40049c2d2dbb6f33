// SPDX-License-Identifier: Apache-2.0
//
// What the user sees is what happened, under faults and hostile input: a
// stop prints every connect made before it, output can't be forged, a
// stalled or failing stdout neither hangs the tool nor grows it, and no
// signal opens a door into this root process.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { SLOW } from '../slow.js';
import {
  ACCEPT_CLI,
  ATTACH,
  CLI,
  connectFrom,
  describeE2E,
  listeners,
  ourProgramsAfterExit,
  stopAll,
  ToolRun,
} from './harness.js';

describeE2E('tcpconnect and tcpaccept under faults', () => {
  let ports: Awaited<ReturnType<typeof listeners>>;
  beforeAll(async () => {
    ports = await listeners();
  });
  afterAll(() => ports?.close());
  afterEach(stopAll);

  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)(
    'prints every connect of a burst made just before %s, then exits 0',
    async (signal) => {
      const tool = await ToolRun.start(['-L', ...ATTACH]);
      const burst = await connectFrom('tcpc-stop', '127.0.0.1', ports.v4, { count: 300 });
      expect(burst.error).toBeNull();
      const done = await tool.stop(signal); // at once: the rows are still in the rings
      expect(done.code).toBe(0);
      const ours = tool.rows().filter((r) => r.includes(' tcpc-stop '));
      expect(ours).toHaveLength(300);
      expect(new Set(ours.map((r) => Number(r.split(/ +/)[4]))).size).toBe(300); // every LPORT once
      expect(done.stderr).not.toMatch(/lost/);
      expect(await ourProgramsAfterExit()).toEqual([]);
    },
  );

  it('escapes control bytes in a task name, so that a name cannot forge a row', async () => {
    const tool = await ToolRun.start(ATTACH);
    // prctl(PR_SET_NAME) through /proc: ESC, a newline and a fake row's start.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('fs').writeFileSync('/proc/self/comm', 'x\\x1b[31m\\n6666');
         const s = require('net').connect(${ports.v4}, '127.0.0.1', () => s.destroy());`,
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => child.on('close', r));
    await tool.waitForRow((r) => r.includes('\\x1b'));
    const done = await tool.stop();
    expect(done.code).toBe(0);
    const forged = tool.rows().filter((r) => r.startsWith('6666'));
    expect(forged).toEqual([]);
    const row = tool.rows().find((r) => r.includes('\\x1b'))!;
    expect(row).toMatch(/^\d+ +x\\x1b\[31m\\x0a6666 4 {2}127\.0\.0\.1 /);
    expect(tool.stdout).not.toContain('\x1b');
  });

  it('exits 1 with one line when stdout fails (/dev/full)', () => {
    const r = spawnSync('sh', ['-c', `exec "${process.execPath}" "${CLI}" ${ATTACH.join(' ')} > /dev/full`], {
      encoding: 'utf8',
      timeout: 10000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^tcpconnect: cannot write output: .*ENOSPC/);
  });

  it('ends within a second of Ctrl-C while nobody reads its stdout, and says what it dropped', async () => {
    // stdout a pipe nobody reads: it fills up and stays full.
    const tool = await ToolRun.start(['-L', ...ATTACH]);
    tool.proc.stdout!.pause();
    // ~360 kB of rows against a 64 kB pipe.
    await connectFrom('tcpc-stall', '127.0.0.1', ports.v4, { count: 4000 });
    await new Promise((r) => setTimeout(r, 300));
    const before = Date.now();
    tool.proc.kill('SIGINT');
    const done = await new Promise<number | null>((r) => tool.proc.on('exit', (code) => r(code)));
    expect(Date.now() - before).toBeLessThan(1500 * SLOW);
    expect(done).toBe(0);
    tool.proc.stdout!.resume();
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it('ignores SIGUSR1: no inspector opens in this root process, and tracing goes on', async () => {
    const listening = () => execFileSync('ss', ['-Hltn', 'sport = :9229'], { encoding: 'utf8' }).trim();
    expect(listening()).toBe('');
    for (const cli of [CLI, ACCEPT_CLI]) {
      const tool = await ToolRun.start(ATTACH, cli === CLI ? 2 : 1, cli);
      tool.proc.kill('SIGUSR1');
      await new Promise((r) => setTimeout(r, 500));
      expect(listening()).toBe('');
      expect(tool.proc.exitCode).toBeNull();
      const s = net.connect(ports.v4, '127.0.0.1');
      await new Promise((r) => s.on('connect', r));
      s.destroy();
      const done = await tool.stop();
      expect(done.stderr).not.toMatch(/inspector|Debugger/);
      expect(done.code).toBe(0);
    }
  });

  it('opens no inspector on a SIGUSR1 sent while it starts, before its handler is in place', async () => {
    const listening = () => execFileSync('ss', ['-Hltn', 'sport = :9229'], { encoding: 'utf8' }).trim();
    // Run as a user runs it: the executable itself, through its #! line.
    const proc = spawn(CLI, ATTACH, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((r) => proc.on('close', r));
    // As soon as Node catches SIGUSR1 (its inspector's handler, installed
    // before any of the tool's code runs), send one.
    const caught = () => {
      try {
        const line = fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8').match(/^SigCgt:\s*([0-9a-f]+)$/m);
        return line !== null && (BigInt(`0x${line[1]}`) & (1n << 9n)) !== 0n;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 3000 * SLOW;
    while (!caught() && proc.exitCode === null && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    proc.kill('SIGUSR1');
    await new Promise((r) => setTimeout(r, 300 * SLOW));
    const seen = listening();
    expect(proc.exitCode).toBeNull(); // and it traces on
    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(seen).toBe('');
    expect(stderr).not.toMatch(/Debugger listening/);
  });

  it('names the cause when it has too few file descriptors left, and traces when it has enough', async () => {
    const limited = (limit: number) => [
      '-c',
      `ulimit -n ${limit}; exec "${process.execPath}" "${CLI}" ${ATTACH.join(' ')}`,
    ];
    // Node alone holds ~20; a tracer ~20 more.
    const refused = spawnSync('sh', limited(40), { encoding: 'utf8', timeout: 10000 * SLOW });
    expect([refused.status, refused.stdout]).toEqual([1, '']);
    expect(refused.stderr).toMatch(
      /^tcpconnect: too many open files: \d+ of the limit of 40 are open, and tracing needs about 32 more; raise the limit \(ulimit -n\)\n$/,
    );
    const tool = await ToolRun.spawn('sh', limited(64));
    const done = await tool.stop();
    expect(done.code).toBe(0);
    expect(done.stderr).not.toMatch(/internal error|too many/);
  });

  it('keeps every row coming under a DNS flood from a local sender on 127.0.0.x:53 (-d), and stops at once', async () => {
    const tool = await ToolRun.start(['-d', ...ATTACH]);
    const bound = async (port: number, address: string) => {
      const sock = dgram.createSocket('udp4');
      await new Promise<void>((r) => sock.bind(port, address, r));
      return sock;
    };
    const sink = await bound(0, '127.0.0.1');
    const flood = await bound(53, '127.0.0.154');
    // A response header that claims 65535 records of every kind, and nothing else.
    const hostile = Buffer.from([0, 1, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    const timer = setInterval(() => {
      for (let i = 0; i < 20; i++) flood.send(hostile, sink.address().port, '127.0.0.1');
    }, 20); // 1000 a second
    try {
      const burst = await connectFrom('tcpc-flood', '127.0.0.1', ports.v4, { count: 500 });
      expect(burst.error).toBeNull();
      await tool.waitUntil(() => tool.rows().filter((r) => r.includes(' tcpc-flood ')).length === 500, 5000);
    } finally {
      clearInterval(timer);
    }
    const before = Date.now();
    const done = await tool.stop();
    expect(Date.now() - before).toBeLessThan(1500 * SLOW);
    expect(done.code).toBe(0);
    sink.close();
    flood.close();
  });

  it('counts the receives whose kretprobe the kernel missed (more blocked readers than instances), under -d', async () => {
    const tool = await ToolRun.start(['-d', ...ATTACH]);
    const onKprobes = tool.stderr.includes('tracing with kprobes');
    // 64 threads blocked in recvfrom() at once: a kretprobe has
    // max(10, 2 x CPUs) instances, so most of these returns are never seen.
    // Each thread then receives once more (at once: nothing is queued), and
    // that entry finds the one its missed return left.
    const script = `
import socket, threading, time
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
for s in socks: s.bind(("127.0.0.1", 0))
def reader(s):
    s.recvfrom(512)
    s.setblocking(False)
    try: s.recvfrom(512)
    except BlockingIOError: pass
threads = [threading.Thread(target=reader, args=(s,)) for s in socks]
for t in threads: t.start()
time.sleep(2.0)
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for s in socks: out.sendto(b"x", s.getsockname())
for t in threads: t.join()
`;
    const r = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 30000 * SLOW });
    expect(r.status, r.stderr).toBe(0);
    const done = await tool.stop();
    expect(done.code).toBe(0);
    const said = [...done.stderr.matchAll(/Possibly lost (\d+) samples/g)].reduce((n, m) => n + Number(m[1]), 0);
    // On tracepoints there is no kretprobe to miss, and nothing was lost.
    if (onKprobes) expect(said).toBeGreaterThan(0);
    else expect(said).toBe(0);
  });

  it('prints rows at once in a time namespace, whose clock is not the one records are stamped with', async () => {
    // 60 s behind the host's monotonic clock: a reader that took its own
    // clock for the kernel's would hold every row back until the end.
    const tool = await ToolRun.spawn('unshare', [
      '-T',
      '--monotonic',
      '-60',
      '--fork',
      process.execPath,
      CLI,
      ...ATTACH,
    ]);
    const a = await connectFrom('tcpc-timens', '127.0.0.1', ports.v4);
    await tool.waitForRow((r) => r.startsWith(`${a.pid} `), 2000);
    // unshare waits for its child, the tool: stop that.
    const child = Number(execFileSync('pgrep', ['-P', String(tool.proc.pid)], { encoding: 'utf8' }).trim());
    process.kill(child, 'SIGINT');
    await tool.waitUntil(() => tool.proc.exitCode !== null, 3000);
    expect((await tool.stop()).code).toBe(0);
  });
});
