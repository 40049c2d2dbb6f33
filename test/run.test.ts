// SPDX-License-Identifier: Apache-2.0
//
// The whole CLI through run(), with a fake native binding: exit codes,
// messages, the attach-method policy, and rows from a batch.

import * as dnsPacket from 'dns-packet';
import { describe, expect, it, vi } from 'vitest';

import type { Transport } from '../src/events.js';
import { loadNative, type NativeBinding, type NativeTracer, type TracerSpec } from '../src/native.js';
import type { Io } from '../src/run.js';
import { run } from '../src/tcpconnect.js';
import { dnsRecord, record } from './records.js';

interface FakeKernel {
  kprobes: boolean; // can kprobes attach?
  loadErrno?: number; // make load fail
  opened: Array<{ object: string; spec: TracerSpec }>;
  attached: string[][];
  cgroupRoots: Array<string | undefined>;
  closed: number;
  drained: number;
  /** hands the tool what the reader makes of records read as these runs (one per ring) */
  emit?: (runs: Buffer[][], lost?: number) => void;
  maps?: Record<string, Array<[Buffer, Buffer]>>;
  ringbuf?: boolean; // has BPF ring buffers (default true)
  connectRows?: boolean; // sock_ops may read the connecting task (default true)
  perCpuRings?: boolean; // can hold them in a map, one per CPU (default true)
}

function fakeNative(kernel: FakeKernel): NativeBinding {
  class Tracer implements NativeTracer {
    constructor(object: string, spec: TracerSpec) {
      if (kernel.loadErrno)
        throw Object.assign(new Error('failed to load BPF object tcpconnect: x'), {
          errno: kernel.loadErrno,
          log: 'libbpf: some detail\n',
        });
      kernel.opened.push({ object, spec });
    }
    attach(programs: string[], cgroupRoot?: string) {
      if (!kernel.kprobes && programs.some((p) => p.startsWith('tcpc_v')))
        throw Object.assign(new Error(`failed to attach ${programs[0]}: No such file or directory`), {
          errno: 2,
        });
      kernel.attached.push(programs);
      kernel.cgroupRoots.push(cgroupRoot);
    }
    start(cb: (batch: Buffer | null, lost: number, malformed: number) => void) {
      kernel.emit = (runs, lost = 0) => {
        const { batch, malformed } = loadNative().collate(runs, 2n ** 64n - 1n);
        cb(batch.length ? batch : null, lost, malformed);
      };
    }
    readMap(name: string): Array<[Buffer, Buffer]> {
      return kernel.maps?.[name] ?? [];
    }
    drain() {
      kernel.drained++;
    }
    close() {
      kernel.closed++;
    }
  }
  const { RowWriter, records, addressText } = loadNative(); // the real ones: rows are printed in C
  return {
    Tracer,
    RowWriter,
    records,
    addressText,
    ringBufferSupported: () => kernel.ringbuf ?? true,
    connectRowsSupported: () => kernel.connectRows ?? true,
    perCpuRingsSupported: () => kernel.perCpuRings ?? true,
  } as unknown as NativeBinding;
}

function harness(
  over: Partial<FakeKernel> = {},
  env: {
    euid?: number;
    btf?: boolean;
    kprobeSupport?: boolean;
    cgroup2Root?: string;
    transportCap?: Transport;
    openFiles?: { open: number; limit: number };
  } = {},
) {
  const kernel: FakeKernel = {
    kprobes: false,
    opened: [],
    attached: [],
    cgroupRoots: [],
    closed: 0,
    drained: 0,
    ...over,
  };
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => out.push(typeof t === 'string' ? t : Buffer.from(t).toString('latin1')),
    err: (l) => err.push(l),
    native: () => fakeNative(kernel),
    geteuid: () => env.euid ?? 0,
    btfAvailable: () => env.btf ?? true,
    openFiles: () => env.openFiles ?? { open: 20, limit: 1024 },
    kprobesAvailable: () => env.kprobeSupport ?? true,
    cgroup2Root: () => env.cgroup2Root ?? null,
    transportCap: () => env.transportCap,
    stopped: () => stopped,
  };
  return { kernel, io, out, err, stop };
}

describe('run', () => {
  it('prints help on stdout and exits 0', async () => {
    const h = harness();
    expect(await run(['-h'], h.io)).toBe(0);
    expect(h.out.join('')).toMatch(/^usage: tcpconnect /);
    expect(h.kernel.opened).toHaveLength(0);
  });

  it.each([['-p', 'abc'], ['-P', '70000'], ['-P', '80,,81'], ['-u', 'x'], ['-4', '-6'], ['--nope']])(
    'when %j then usage and one error line on stderr, exit 2, nothing loaded',
    async (...argv) => {
      const h = harness();
      expect(await run(argv, h.io)).toBe(2);
      expect(h.err).toHaveLength(2);
      expect(h.err[0]).toMatch(/^usage: tcpconnect /);
      expect(h.err[1]).toMatch(/^tcpconnect: error: /);
      expect(h.out).toEqual([]);
      expect(h.kernel.opened).toHaveLength(0);
    },
  );

  it('when not root then exit 1 with a hint', async () => {
    const h = harness({}, { euid: 1000 });
    expect(await run([], h.io)).toBe(1);
    expect(h.err).toEqual(['tcpconnect: must be run as root (try: sudo tcpconnect)']);
  });

  it('when the kernel has no BTF then exit 1 saying so', async () => {
    const h = harness({}, { btf: false });
    expect(await run([], h.io)).toBe(1);
    expect(h.err[0]).toMatch(/no BTF .*CONFIG_DEBUG_INFO_BTF=y/);
  });

  it('when too few file descriptors are left then exit 1 naming the cause, before loading anything', async () => {
    const h = harness({}, { openFiles: { open: 20, limit: 40 } });
    expect(await run([], h.io)).toBe(1);
    expect(h.err).toEqual([
      'tcpconnect: too many open files: 20 of the limit of 40 are open, and tracing needs about 32 more; raise the limit (ulimit -n)',
    ]);
    expect(h.kernel.opened).toHaveLength(0);
  });

  it('when loading is refused then exit 1 with one line', async () => {
    const h = harness({ loadErrno: 1 });
    expect(await run(['--attach', 'tracepoint'], h.io)).toBe(1);
    expect(h.err).toHaveLength(1);
    expect(h.err[0]).toMatch(/^tcpconnect: permission denied loading BPF programs/);
  });

  it('when kprobes cannot attach then it falls back to tracepoints and says so once', async () => {
    const h = harness({ kprobes: false });
    const done = run([], h.io);
    await Promise.resolve();
    expect(h.kernel.opened[0].spec.programs).toEqual([
      'tcpc_v4_return',
      'tcpc_v6_return',
      'tcpc_v4_entry',
      'tcpc_v6_entry',
      'tcpc_state',
    ]);
    expect(h.kernel.attached).toEqual([['tcpc_state']]);
    expect(h.err).toEqual([
      'tcpconnect: tracing with tracepoint sock:inet_sock_set_state (kprobes unavailable: No such file or directory)',
    ]);
    h.stop();
    expect(await done).toBe(0);
    expect(h.kernel.closed).toBe(1);
  });

  it('when the kernel has no kprobes at all then it loads only the tracepoint programs', async () => {
    const h = harness({ kprobes: false }, { kprobeSupport: false });
    const done = run([], h.io);
    await Promise.resolve();
    expect(h.kernel.opened.map((o) => o.spec.programs)).toEqual([['tcpc_state']]);
    expect(h.kernel.attached).toEqual([['tcpc_state']]);
    expect(h.err).toEqual([
      'tcpconnect: tracing with tracepoint sock:inet_sock_set_state (kprobes unavailable: this kernel has no kprobe PMU or kprobe_events)',
    ]);
    h.stop();
    expect(await done).toBe(0);
  });

  it('when kprobes attach then it uses them, each kretprobe attached before its kprobe', async () => {
    const h = harness({ kprobes: true });
    const done = run(['-L'], h.io);
    await Promise.resolve();
    expect(h.kernel.attached).toEqual([['tcpc_v4_return', 'tcpc_v6_return', 'tcpc_v4_entry', 'tcpc_v6_entry']]);
    expect(h.err).toEqual(['tcpconnect: tracing with kprobes on tcp_v4_connect, tcp_v6_connect']);
    h.stop();
    expect(await done).toBe(0);
  });

  it('when --attach kprobe and kprobes cannot attach then exit 1, closed', async () => {
    const h = harness({ kprobes: false });
    expect(await run(['--attach', 'kprobe'], h.io)).toBe(1);
    expect(h.err).toEqual([
      'tcpconnect: cannot attach kprobes on tcp_v4_connect, tcp_v6_connect: No such file or directory; this kernel may lack kprobes (CONFIG_KPROBES): try --attach tracepoint',
    ]);
    expect(h.kernel.opened[0].spec.programs).toEqual([
      'tcpc_v4_return',
      'tcpc_v6_return',
      'tcpc_v4_entry',
      'tcpc_v6_entry',
    ]);
    expect(h.kernel.closed).toBe(1);
  });

  it('with -L or -j on tracepoints and no cgroup2 also hooks net_dev_queue, and sets defer_to_lport', async () => {
    for (const flag of ['-L', '-j']) {
      const h = harness();
      const done = run([flag, '--attach', 'tracepoint'], h.io);
      await Promise.resolve();
      expect(h.kernel.attached).toEqual([['tcpc_state', 'tcpc_dev_queue']]);
      expect(h.kernel.opened[0].spec.rodata.defer_to_lport).toEqual(Buffer.from([1]));
      h.stop();
      await done;
    }
  });

  it('with -L or -j on tracepoints and cgroup2 sends rows from sock_ops at its root, and nothing else', async () => {
    for (const flag of ['-L', '-j']) {
      const h = harness({}, { cgroup2Root: '/sys/fs/cgroup' });
      const done = run([flag, '--attach', 'tracepoint'], h.io);
      await Promise.resolve();
      expect(h.kernel.opened[0].spec.programs).toEqual(['tcpc_connect_cb']);
      expect(h.kernel.attached).toEqual([['tcpc_connect_cb']]);
      expect(h.kernel.cgroupRoots).toEqual(['/sys/fs/cgroup']);
      expect(h.kernel.opened[0].spec.rodata.defer_to_lport).toEqual(Buffer.from([0]));
      expect(h.err).toContain('tcpconnect: tracing with cgroup sock_ops (TCP connect) at /sys/fs/cgroup');
      h.stop();
      await done;
    }
  });

  it('without -L or -j, cgroup2 changes nothing: the state tracepoint sends the rows', async () => {
    const h = harness({}, { cgroup2Root: '/sys/fs/cgroup' });
    const done = run(['--attach', 'tracepoint'], h.io);
    await Promise.resolve();
    expect(h.kernel.attached).toEqual([['tcpc_state']]);
    h.stop();
    await done;
  });

  it('puts filters into rodata: pid, uid, family, a bit per port', async () => {
    const h = harness();
    const done = run(['-p', '181', '-u', '0', '-6', '-P', '80,443'], h.io);
    await Promise.resolve();
    const r = h.kernel.opened[0].spec.rodata;
    expect(r.filter_pid.readUInt32LE()).toBe(181);
    expect([r.filter_uid_on[0], r.filter_uid.readUInt32LE()]).toEqual([1, 0]);
    expect(r.filter_family[0]).toBe(6);
    expect(r.filter_ports_on[0]).toBe(1);
    const set = [...r.filter_ports].flatMap((byte, i) =>
      [...Array(8).keys()].filter((b) => byte & (1 << b)).map((b) => i * 8 + b),
    );
    expect(set).toEqual([80, 443]);
    h.stop();
    await done;
  });

  it('chooses the transport once, and stamps records where rows print time or rings are merged', async () => {
    // -t and -d print times; -U the UID; rows from a ring per CPU (or a
    // perf buffer) are merged by time. -d keeps one ring for all CPUs, so
    // that an answer is read before the connect it names.
    type Case = [string[], boolean, boolean, Transport | undefined, Transport, number, number];
    const cases: Case[] = [
      [[], true, true, undefined, 'per-cpu-rings', 1, 0],
      [['-U'], true, true, undefined, 'per-cpu-rings', 1, 1],
      [['-d'], true, true, undefined, 'shared-ring', 1, 0],
      [[], true, false, undefined, 'shared-ring', 0, 0],
      [['-t'], true, false, undefined, 'shared-ring', 1, 0],
      [[], false, false, undefined, 'perf-buffer', 1, 0],
      [['-d'], false, false, undefined, 'perf-buffer', 1, 0],
      [[], true, true, 'shared-ring', 'shared-ring', 0, 0],
      [[], true, true, 'perf-buffer', 'perf-buffer', 1, 0],
      [['-d'], true, true, 'per-cpu-rings', 'shared-ring', 1, 0],
    ];
    const got: Case[] = [];
    for (const [argv, ringbuf, perCpuRings, transportCap] of cases) {
      const h = harness({ ringbuf, perCpuRings }, { transportCap });
      const done = run(argv, h.io);
      await vi.waitFor(() => expect(h.kernel.opened).not.toEqual([])); // -d loads its module first
      const { rodata: r, transport } = h.kernel.opened[0].spec;
      expect([r.use_ringbuf[0], r.per_cpu_rings[0]]).toEqual([
        transport === 'perf-buffer' ? 0 : 1,
        transport === 'per-cpu-rings' ? 1 : 0,
      ]);
      got.push([argv, ringbuf, perCpuRings, transportCap, transport, r.want_ts[0], r.want_uid[0]]);
      h.stop();
      await done;
    }
    expect(got).toEqual(cases);
  });

  it('without filters leaves them off', async () => {
    const h = harness();
    const done = run([], h.io);
    await Promise.resolve();
    const r = h.kernel.opened[0].spec.rodata;
    expect([r.filter_pid.readUInt32LE(), r.filter_uid_on[0], r.filter_ports_on[0], r.filter_family[0]]).toEqual([
      0, 0, 0, 0,
    ]);
    h.stop();
    await done;
  });

  it('with -c prints the banner, nothing until stopped, then the table; overflow goes to stderr', async () => {
    const key = Buffer.alloc(12);
    key.set([127, 0, 0, 1, 127, 0, 0, 1]);
    key.writeUInt16LE(80, 8);
    const n = (v: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(v));
      return b;
    };
    const h = harness({ maps: { ipv4_count: [[key, n(4)]], count_overflow: [[Buffer.alloc(4), n(2)]] } });
    const done = run(['-c', '-t', '-U', '-L'], h.io);
    await Promise.resolve();
    expect(h.kernel.opened[0].spec.rodata.do_count).toEqual(Buffer.from([1]));
    expect(h.kernel.opened[0].spec.rodata.defer_to_lport).toEqual(Buffer.from([0]));
    expect(h.kernel.attached).toEqual([['tcpc_state']]);
    expect(h.out.join('')).toBe('Tracing connect ... Hit Ctrl-C to end\n');
    h.stop();
    expect(await done).toBe(0);
    expect(h.out.join('')).toBe(
      'Tracing connect ... Hit Ctrl-C to end\n\n' +
        'LADDR                     RADDR                     RPORT                CONNECTS  \n' +
        '127.0.0.1                 127.0.0.1                 80                   4         \n',
    );
    expect(h.err).toContain('tcpconnect: 2 connects were not counted: the count map was full (65536 flows)');
    expect(h.kernel.closed).toBe(1);
  });

  it('with -d names each row from the answers before it in the same batch', async () => {
    const answer = dnsPacket.encode({
      type: 'response',
      id: 7,
      questions: [{ type: 'A', name: 'db.example' }],
      answers: [{ type: 'A', name: 'db.example', data: '192.0.2.7' }],
    });
    const h = harness();
    const done = run(['-d'], h.io);
    await vi.waitFor(() => expect(h.kernel.attached).not.toEqual([])); // -d loads its module first
    expect(h.kernel.attached).toEqual([['tcpc_state', 'tcpc_dns_skb']]);
    expect(h.out.join('')).toMatch(/DPORT {2}QUERY\n$/);
    const psql = { pid: 5, task: 'psql', dport: 5432, daddr: '192.0.2.7' };
    h.kernel.emit!([[record({ ...psql, tsUs: 1 }), dnsRecord(answer, 2), record({ ...psql, tsUs: 3 })]]);
    expect(h.out.slice(1)).toEqual([
      '5       psql         4  127.0.0.1        192.0.2.7        5432   No DNS Query\n' +
        '5       psql         4  127.0.0.1        192.0.2.7        5432   db.example\n',
    ]);
    h.stop();
    expect(await done).toBe(0);
  });

  it('with -j prints no banner or header, and says a loss on stdout too', async () => {
    const h = harness();
    const done = run(['-j'], h.io);
    await Promise.resolve();
    expect(h.out.join('')).toBe('');
    h.kernel.emit!([[record({ pid: 10, tsUs: 1, task: 'curl', dport: 80 })]], 2);
    expect(h.out.join('')).toMatch(
      /^\{"event":"lost","count":2\}\n\{"event":"connect",.*"pid":10,.*"dport":80,"cgroup_id":0,"cgroup":null,"container":null,"mntns":0,"netns":0\}\n$/,
    );
    expect(h.err).toContain('Possibly lost 2 samples');
    const { rodata } = h.kernel.opened[0].spec;
    expect([rodata.want_ts[0], rodata.want_uid[0], rodata.defer_to_lport[0]]).toEqual([1, 1, 1]); // every field
    h.stop();
    expect(await done).toBe(0);
  });

  it('prints banner, header, then rows in time order; lost and malformed records go to stderr', async () => {
    const h = harness();
    const done = run([], h.io);
    await Promise.resolve();
    expect(h.out.join('')).toBe(
      'Tracing connect ... Hit Ctrl-C to end\nPID     COMM         IP SADDR            DADDR            DPORT \n',
    );
    // Two CPUs' rings: the reader puts their records in time order.
    h.kernel.emit!(
      [
        [record({ pid: 20, tsUs: 2, task: 'second', dport: 81 })],
        [record({ pid: 10, tsUs: 1, task: 'first', dport: 80 })],
      ],
      3,
    );
    expect(h.out.slice(1)).toEqual([
      '10      first        4  127.0.0.1        127.0.0.1        80     \n' +
        '20      second       4  127.0.0.1        127.0.0.1        81     \n',
    ]);
    expect(h.err).toContain('Possibly lost 3 samples');
    h.kernel.emit!([[Buffer.alloc(8)]]);
    expect(h.err).toContain('tcpconnect: skipped 1 malformed records');
    h.stop();
    expect(await done).toBe(0);
  });
});
