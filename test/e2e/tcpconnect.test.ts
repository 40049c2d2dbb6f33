// SPDX-License-Identifier: Apache-2.0
//
// The real CLI, the real kernel, real connections on loopback and in a
// network namespace made here. Rows are asserted as exact text.

import { spawn } from 'node:child_process';
import os from 'node:os';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadNative } from '../../src/native.js';
import {
  ATTACH,
  armedConnector,
  bccRow,
  CLI,
  closedPort,
  connectFrom,
  describeE2E,
  listeners,
  loadedMapTypes,
  NOBODY,
  ourPrograms,
  ourProgramsAfterExit,
  startWithoutCgroup2,
  stopAll,
  ToolRun,
} from './harness.js';
import { createNetns, NO_ARP_HOST, SILENT_HOST, UNROUTED_HOST } from './netns.js';

describeE2E('tcpconnect end to end', () => {
  let ports: Awaited<ReturnType<typeof listeners>>;
  beforeAll(async () => {
    ports = await listeners();
  });
  afterAll(() => ports?.close());
  afterEach(stopAll);

  it('prints bcc rows for IPv4, IPv6, v4-mapped and refused connects', async () => {
    const tool = await ToolRun.start(ATTACH);
    expect(tool.stdout).toBe(
      'Tracing connect ... Hit Ctrl-C to end\nPID     COMM         IP SADDR            DADDR            DPORT \n',
    );
    const refusedPort = await closedPort();
    const v4 = await connectFrom('tcpc-v4', '127.0.0.1', ports.v4);
    const v6 = await connectFrom('tcpc-v6', '::1', ports.v6);
    const mapped = await connectFrom('tcpc-mapped', '::ffff:127.0.0.1', ports.v4);
    const refused = await connectFrom('tcpc-refused', '127.0.0.1', refusedPort);
    expect([v4.error, v6.error, mapped.error, refused.error]).toEqual([null, null, null, 'ECONNREFUSED']);

    const want = [
      bccRow(v4.pid, 'tcpc-v4', 4, '127.0.0.1', '127.0.0.1', ports.v4),
      bccRow(v6.pid, 'tcpc-v6', 6, '::1', '::1', ports.v6),
      bccRow(mapped.pid, 'tcpc-mapped', 4, '127.0.0.1', '127.0.0.1', ports.v4),
      bccRow(refused.pid, 'tcpc-refused', 4, '127.0.0.1', '127.0.0.1', refusedPort),
    ];
    await tool.waitUntil(() => want.every((w) => tool.rows().includes(w)));
    const done = await tool.stop('SIGINT');
    expect(done.code).toBe(0);
    // Exactly one row per connect from our children (the mapped one once, as IP 4).
    const ours = tool.rows().filter((r) => /tcpc-/.test(r));
    expect(ours).toEqual(want);
    expect(done.stderr).toMatch(/^tcpconnect: tracing with (kprobes|tracepoint)/);
  });

  it('sends rows up a ring buffer per CPU, one shared ring, or a perf buffer (TCPCONNECT_TRANSPORT)', async () => {
    for (const [env, types] of [
      [{}, { events: 'array', events_per_cpu: 'array_of_maps', events_cpu0: 'ringbuf' }],
      [{ TCPCONNECT_TRANSPORT: 'shared-ring' }, { events: 'ringbuf', events_per_cpu: 'array', events_cpu0: undefined }],
      [
        { TCPCONNECT_TRANSPORT: 'perf-buffer' },
        { events: 'perf_event_array', events_per_cpu: 'array', events_cpu0: undefined },
      ],
    ] as const) {
      const tool = await ToolRun.start(ATTACH, 2, CLI, env);
      for (const [name, type] of Object.entries(types))
        expect([name, loadedMapTypes(name)]).toEqual([name, type ? [type] : []]);
      if (types.events_cpu0) expect(loadedMapTypes(`events_cpu${os.cpus().length - 1}`)).toEqual(['ringbuf']);
      const v4 = await connectFrom('tcpc-v4', '127.0.0.1', ports.v4);
      const v6 = await connectFrom('tcpc-v6', '::1', ports.v6);
      const want = [
        bccRow(v4.pid, 'tcpc-v4', 4, '127.0.0.1', '127.0.0.1', ports.v4),
        bccRow(v6.pid, 'tcpc-v6', 6, '::1', '::1', ports.v6),
      ];
      await tool.waitUntil(() => want.every((w) => tool.rows().includes(w)));
      const done = await tool.stop('SIGINT');
      expect(done.code).toBe(0);
      expect(tool.rows().filter((r) => /tcpc-/.test(r))).toEqual(want);
      expect(await ourProgramsAfterExit()).toEqual([]);
    }
  });

  // Rows are written from memory the addon reuses for the next batch; what a
  // full pipe does not take must be copied, in order, before that happens.
  it('gives a reader that falls behind (a full pipe) every row, whole and in order', async () => {
    const tool = await ToolRun.start(['-L', ...ATTACH]);
    tool.proc.stdout!.pause();
    const burst = await connectFrom('tcpc-burst', '127.0.0.1', ports.v4, { count: 4000 });
    expect(burst.error).toBeNull();
    await new Promise((r) => setTimeout(r, 300)); // ~300 kB of rows against a 64 kB pipe and 64 kB read ahead
    tool.proc.stdout!.resume();
    const ours = () => tool.rows().filter((r) => r.includes(' tcpc-burst '));
    await tool.waitUntil(() => ours().length >= 4000, 10000);
    await tool.stop();
    const row = (lport: number | null) =>
      `${String(burst.pid).padEnd(7)} ${'tcpc-burst'.padEnd(12)} 4  ${'127.0.0.1'.padEnd(16)} ${String(lport).padEnd(6)} ${'127.0.0.1'.padEnd(16)} ${String(ports.v4).padEnd(6)} `;
    expect(ours()).toEqual(burst.localPorts.map(row));
  });

  // Each CPU has its own ring buffer, read one after another: the rows of
  // connects made at once on both CPUs must still come out in time order.
  it('prints the rows of connects on every CPU at once in time order', async () => {
    const tool = await ToolRun.start(['-t', '-L', ...ATTACH]);
    const cpus = os.cpus().length;
    // Both start at one moment, however long each node takes to start (a busy host).
    const startAt = Date.now() + 1500;
    const bursts = await Promise.all(
      ['tcpc-cpu-a', 'tcpc-cpu-b'].map((comm, i) =>
        connectFrom(comm, '127.0.0.1', ports.v4, { count: 3000, cpu: i % cpus, startAt }),
      ),
    );
    const ours = () => tool.rows().filter((r) => / tcpc-cpu-[ab] /.test(r));
    await tool.waitUntil(() => ours().length >= 6000, 10000);
    await tool.stop();
    const rows = ours().map((r) => r.trim().split(/ +/));
    // Each process's connects in the order it made them, ...
    for (const [i, b] of bursts.entries()) {
      expect(b.error).toBeNull();
      const comm = ['tcpc-cpu-a', 'tcpc-cpu-b'][i];
      expect(rows.filter((f) => f[2] === comm).map((f) => Number(f[5]))).toEqual(b.localPorts);
    }
    // ... the two interleaved (they ran at once), and the clock never going back.
    const switches = rows.filter((f, k) => k > 0 && f[2] !== rows[k - 1][2]).length;
    if (cpus > 1) expect(switches).toBeGreaterThan(10);
    const times = rows.map((f) => Number(f[0]));
    expect(times.filter((t, k) => k > 0 && t < times[k - 1])).toEqual([]);
  });

  // On tracepoints the port comes from a sock_ops program at the cgroup2
  // root where the kernel lets it read the task (not 6.1), or else from
  // the SYN's net_dev_queue.
  it.each([
    [
      'a cgroup2 mount',
      (args: string[]) => ToolRun.start(args),
      loadNative().connectRowsSupported() ? /sock_ops|kprobes/ : /net:net_dev_queue|kprobes/,
    ],
    ['no cgroup2 mount', (args: string[]) => startWithoutCgroup2(args), /net:net_dev_queue|kprobes/],
  ])('with -t -U -L prints TIME(s), UID and the real local port, with %s', async (_, start, hooks) => {
    const tool = await start(['-t', '-U', '-L', ...ATTACH]);
    await tool.waitUntil(() => hooks.test(tool.stderr));
    expect(tool.stdout.split('\n')[1]).toBe(
      'TIME(s)  UID   PID     COMM         IP SADDR            LPORT  DADDR            DPORT ',
    );
    const a = await connectFrom('tcpc-tul', '127.0.0.1', ports.v4, { uid: NOBODY });
    const b = await connectFrom('tcpc-tul6', '::1', ports.v6);
    expect(a.localPort).toBeGreaterThan(0);
    const rowA = await tool.waitForRow((r) => r.includes(` ${a.pid} `));
    const rowB = await tool.waitForRow((r) => r.includes(` ${b.pid} `));
    await tool.stop();
    const tail = (pid: number, comm: string, ip: number, addr: string, lport: number, dport: number) =>
      `${String(pid).padEnd(7)} ${comm.padEnd(12)} ${ip}  ${addr.padEnd(16)} ${String(lport).padEnd(6)} ${addr.padEnd(16)} ${String(dport).padEnd(6)} `;
    expect(rowA).toMatch(/^\d+\.\d{3} +/);
    expect(rowA.slice(9)).toBe(
      `${String(NOBODY).padEnd(6)}${tail(a.pid, 'tcpc-tul', 4, '127.0.0.1', a.localPort!, ports.v4)}`,
    );
    expect(rowB.slice(9)).toBe(`0     ${tail(b.pid, 'tcpc-tul6', 6, '::1', b.localPort!, ports.v6)}`);
    const first = tool.rows()[0];
    expect(first.startsWith('0.000    ')).toBe(true);
  });

  it('with -T prints the time of day first, as tcpaccept -T', async () => {
    const tool = await ToolRun.start(['-T', '-t', ...ATTACH]);
    expect(tool.stdout.split('\n')[1]).toBe(
      'TIME     TIME(s)  PID     COMM         IP SADDR            DADDR            DPORT ',
    );
    const before = new Date();
    const a = await connectFrom('tcpc-clock', '127.0.0.1', ports.v4);
    const row = await tool.waitForRow((r) => r.includes(` ${a.pid} `));
    const took = (Date.now() - before.getTime()) / 1000;
    await tool.stop();
    expect(row).toMatch(/^\d\d:\d\d:\d\d 0\.000 {4}\d+ +tcpc-clock /);
    // Local seconds of the day, from the row and from just before the connect (across midnight too).
    const [h, m, sec] = row.slice(0, 8).split(':').map(Number);
    const local = before.getHours() * 3600 + before.getMinutes() * 60 + before.getSeconds();
    expect((h * 3600 + m * 60 + sec - local + 86400) % 86400, row).toBeLessThanOrEqual(Math.ceil(took) + 1);
  });

  it('with -p traces that PID only', async () => {
    const wanted = await armedConnector('tcpc-pid-yes', '127.0.0.1', ports.v4);
    const other = await armedConnector('tcpc-pid-no', '127.0.0.1', ports.v4);
    const tool = await ToolRun.start(['-p', String(wanted.pid), ...ATTACH]);
    await other.fire();
    await wanted.fire();
    await tool.waitForRow((r) => r.includes('tcpc-pid-yes'));
    await new Promise((r) => setTimeout(r, 200));
    await tool.stop();
    expect(tool.rows()).toEqual([bccRow(wanted.pid, 'tcpc-pid-yes', 4, '127.0.0.1', '127.0.0.1', ports.v4)]);
  });

  it('with -P traces those destination ports only', async () => {
    const extra = await listeners();
    const tool = await ToolRun.start(['-P', `${ports.v4},${extra.v6}`, ...ATTACH]);
    const a = await connectFrom('tcpc-port-a', '127.0.0.1', ports.v4);
    await connectFrom('tcpc-port-b', '127.0.0.1', extra.v4);
    await connectFrom('tcpc-port-c', '::1', ports.v6);
    const d = await connectFrom('tcpc-port-d', '::1', extra.v6);
    await tool.waitForRow((r) => r.includes('tcpc-port-d'));
    await tool.stop();
    extra.close();
    expect(tool.rows().filter((r) => r.includes('tcpc-port'))).toEqual([
      bccRow(a.pid, 'tcpc-port-a', 4, '127.0.0.1', '127.0.0.1', ports.v4),
      bccRow(d.pid, 'tcpc-port-d', 6, '::1', '::1', extra.v6),
    ]);
  });

  it('with -4 shows IPv4 and v4-mapped connects, not IPv6', async () => {
    const tool = await ToolRun.start(['-4', ...ATTACH]);
    const v6 = await connectFrom('tcpc-f4-v6', '::1', ports.v6);
    const mapped = await connectFrom('tcpc-f4-map', '::ffff:127.0.0.1', ports.v4);
    const v4 = await connectFrom('tcpc-f4-v4', '127.0.0.1', ports.v4);
    await tool.waitForRow((r) => r.includes('tcpc-f4-v4'));
    await tool.stop();
    expect(v6.error).toBeNull();
    expect(tool.rows().filter((r) => r.includes('tcpc-f4'))).toEqual([
      bccRow(mapped.pid, 'tcpc-f4-map', 4, '127.0.0.1', '127.0.0.1', ports.v4),
      bccRow(v4.pid, 'tcpc-f4-v4', 4, '127.0.0.1', '127.0.0.1', ports.v4),
    ]);
  });

  it('with -6 shows IPv6 connects only, not v4-mapped ones', async () => {
    const tool = await ToolRun.start(['-6', ...ATTACH]);
    await connectFrom('tcpc-f6-map', '::ffff:127.0.0.1', ports.v4);
    await connectFrom('tcpc-f6-v4', '127.0.0.1', ports.v4);
    const v6 = await connectFrom('tcpc-f6-v6', '::1', ports.v6);
    await tool.waitForRow((r) => r.includes('tcpc-f6-v6'));
    await tool.stop();
    expect(tool.rows().filter((r) => r.includes('tcpc-f6'))).toEqual([
      bccRow(v6.pid, 'tcpc-f6-v6', 6, '::1', '::1', ports.v6),
    ]);
  });

  it('with -u traces that UID only', async () => {
    const tool = await ToolRun.start(['-u', String(NOBODY), '-U', ...ATTACH]);
    await connectFrom('tcpc-uid-root', '127.0.0.1', ports.v4);
    const nobody = await connectFrom('tcpc-uid-nob', '127.0.0.1', ports.v4, { uid: NOBODY });
    await tool.waitForRow((r) => r.includes('tcpc-uid-nob'));
    await tool.stop();
    expect(tool.rows().filter((r) => r.includes('tcpc-uid'))).toEqual([
      `${String(NOBODY).padEnd(6)}${bccRow(nobody.pid, 'tcpc-uid-nob', 4, '127.0.0.1', '127.0.0.1', ports.v4)}`,
    ]);
  });

  it('truncates COMM to 12 characters', async () => {
    const tool = await ToolRun.start(ATTACH);
    const c = await connectFrom('tcpc-long-comm-name', '127.0.0.1', ports.v4);
    const row = await tool.waitForRow((r) => r.startsWith(`${c.pid} `));
    await tool.stop();
    expect(row).toBe(bccRow(c.pid, 'tcpc-long-co', 4, '127.0.0.1', '127.0.0.1', ports.v4));
  });

  describe('in a network namespace made by the test', describeNetns);

  it('ends quietly with exit 0 when the reader of a pipe goes away (| head -n 3)', async () => {
    const pipeline = spawn(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" ${ATTACH.join(' ')} | head -n 3`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    pipeline.stdout.on('data', (d) => (out += d));
    pipeline.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => pipeline.on('close', r));
    // Keep connecting until head has its third line and the tool notices.
    let code: number | null | undefined;
    exited.then((c) => (code = c));
    for (const deadline = Date.now() + 45000; code === undefined && Date.now() < deadline; ) {
      await connectFrom('tcpc-head', '127.0.0.1', ports.v4);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await exited).toBe(0);
    expect(out.split('\n').slice(0, 3)[2]).toMatch(/tcpc-head/);
    expect(err).not.toMatch(/Error|at .*\.js/);
    expect(await ourProgramsAfterExit()).toEqual([]);
  }, 90000);

  it.each(['SIGINT', 'SIGTERM'] as const)('exits 0 on %s and leaves nothing loaded', async (signal) => {
    const tool = await ToolRun.start(['-L', ...ATTACH]);
    const during = ourPrograms();
    expect(during.length).toBeGreaterThan(0);
    const done = await tool.stop(signal);
    expect(done.code).toBe(0);
    expect(done.stderr).not.toMatch(/Error|at .*\.js/);
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it('exits 1 with one line when not root, and loads nothing', async () => {
    const child = spawn(process.execPath, [CLI], { uid: NOBODY, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(1);
    expect(err).toBe('tcpconnect: must be run as root (try: sudo tcpconnect)\n');
  });

  it('exits 2 with usage on a bad value, before loading anything', async () => {
    const child = spawn(process.execPath, [CLI, '-P', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(2);
    expect(err.split('\n').slice(-2)).toEqual([
      "tcpconnect: error: argument -P/--port: invalid port '70000' (must be an integer from 0 to 65535)",
      '',
    ]);
    expect(err).toMatch(/^usage: tcpconnect /);
  });

  function describeNetns() {
    let ns: ReturnType<typeof createNetns>;
    beforeAll(() => {
      ns = createNetns();
    });
    afterAll(() => ns?.remove());

    it('with -L prints the real local port while a blocking connect to a silent host still waits', async () => {
      const tool = await ToolRun.start(['-L', ...ATTACH]);
      // bash's /dev/tcp is a blocking connect(); the SYN goes nowhere.
      const bash = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-c', `exec 3<>/dev/tcp/${SILENT_HOST}/80`], {
        stdio: 'ignore',
      });
      try {
        const row = await tool.waitForRow((r) => r.startsWith(`${bash.pid} `));
        expect(bash.exitCode).toBeNull(); // still inside connect()
        const m = row.match(/^(\d+) +bash +4 {2}198\.18\.0\.1 +(\d+) +198\.18\.0\.2 +80 {5}$/);
        expect(m, row).not.toBeNull();
        expect(Number(m![2])).toBeGreaterThan(0);
      } finally {
        bash.kill('SIGKILL');
        await tool.stop();
      }
    });

    it('with -L prints a connect whose SYN never leaves (no answer to ARP), with its local port', async () => {
      const tool = await ToolRun.start(['-L', ...ATTACH]);
      const failed = await connectFrom('tcpc-noarp', NO_ARP_HOST, 80, { netns: ns.name });
      expect(failed.error).toBe('EHOSTUNREACH');
      const row = await tool.waitForRow((r) => r.includes(' tcpc-noarp '));
      await tool.stop();
      const m = row.match(/^(\d+) +tcpc-noarp +4 {2}198\.18\.0\.1 +(\d+) +198\.18\.0\.3 +80 {5}$/);
      expect(m, row).not.toBeNull();
      expect([Number(m![1]), Number(m![2]) > 0]).toEqual([failed.pid, true]);
    });

    it('does not show a connect that fails inside the call (no route)', async () => {
      const tool = await ToolRun.start(['-L', ...ATTACH]);
      const failed = await connectFrom('tcpc-noroute', UNROUTED_HOST, 80, { netns: ns.name });
      const ok = await connectFrom('tcpc-after', '127.0.0.1', ports.v4);
      await tool.waitForRow((r) => r.startsWith(`${ok.pid} `));
      await tool.stop();
      expect(failed.error).toBe('ENETUNREACH');
      expect(tool.rows().filter((r) => r.includes('tcpc-noroute'))).toEqual([]);
    });
  }
});
