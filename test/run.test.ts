// SPDX-License-Identifier: Apache-2.0
//
// The whole CLI through run(), with a fake native binding: exit codes,
// messages, the attach-method policy, and rows from a batch.
import { describe, expect, it, vi } from 'vitest';

import * as dnsPacket from 'dns-packet';

import { EVENT_LAYOUT } from '../src/decode.js';
import { loadNative, type NativeBinding, type NativeTracer, type StartOptions, type TracerSpec } from '../src/native.js';
import { run } from '../src/tcpconnect.js';
import type { Io } from '../src/tool.js';

interface FakeKernel {
  kprobes: boolean; // can kprobes attach?
  loadErrno?: number; // make load fail
  opened: Array<{ object: string; spec: TracerSpec }>;
  attached: string[][];
  closed: number;
  emit?: (batch: Buffer | null, lost: number) => void;
  maps?: Record<string, Array<[Buffer, Buffer]>>;
  ringbuf?: boolean; // has BPF ring buffers (default true)
  perCpuRings?: boolean; // can hold them in a map, one per CPU (default true)
}

function fakeNative(kernel: FakeKernel): NativeBinding {
  class Tracer implements NativeTracer {
    constructor(object: string, spec: TracerSpec) {
      if (kernel.loadErrno) throw Object.assign(new Error('failed to load BPF object tcpconnect: x'), { op: 'load', errno: kernel.loadErrno, log: 'libbpf: some detail\n' });
      kernel.opened.push({ object, spec });
    }
    attach(programs: string[]) {
      if (!kernel.kprobes && programs.some((p) => p.startsWith('tcpc_v')))
        throw Object.assign(new Error(`failed to attach ${programs[0]}: No such file or directory`), { op: 'attach', errno: 2 });
      kernel.attached.push(programs);
    }
    start(_map: string, _options: StartOptions, cb: (batch: Buffer | null, lost: number) => void) {
      kernel.emit = cb;
    }
    readMap(name: string): Array<[Buffer, Buffer]> {
      return kernel.maps?.[name] ?? [];
    }
    close() {
      kernel.closed++;
    }
  }
  return {
    Tracer,
    RowWriter: loadNative().RowWriter, // the real one: rows are printed in C
    layouts: { tcpconnectEvent: EVENT_LAYOUT },
    portBitmapBytes: 8192,
    ringBufferSupported: () => kernel.ringbuf ?? true,
    perCpuRingsSupported: () => kernel.perCpuRings ?? true,
    pinnedMapInfo: () => ({ isMap: true, type: 1, keySize: 8, valueSize: 8, maxEntries: 128 }),
  } as unknown as NativeBinding;
}

function harness(over: Partial<FakeKernel> = {}, env: { euid?: number; btf?: boolean; kprobeSupport?: boolean } = {}) {
  const kernel: FakeKernel = { kprobes: false, opened: [], attached: [], closed: 0, ...over };
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
    kprobesAvailable: () => env.kprobeSupport ?? true,
    stopped: () => stopped,
  };
  return { kernel, io, out, err, stop };
}

function record(fields: { pid: number; ts: bigint; task: string; dport: number; ip?: number; daddr?: number[] }): Buffer {
  const o = EVENT_LAYOUT.offsets;
  const rec = Buffer.alloc(EVENT_LAYOUT.size + 4); // + the perf sample's padding
  rec.writeBigUInt64LE(fields.ts, o.ts_ns);
  rec.writeUInt32LE(1, o.kind); // RECORD_CONNECT
  rec.set([127, 0, 0, 1], o.saddr);
  rec.set(fields.daddr ?? [127, 0, 0, 1], o.daddr);
  rec.writeUInt32LE(fields.pid, o.pid);
  rec.writeUInt16LE(fields.dport, o.dport);
  rec[o.ip] = fields.ip ?? 4;
  rec.write(fields.task, o.task, 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(rec.length);
  return Buffer.concat([len, rec]);
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
      'tcpc_v4_entry', 'tcpc_v4_return', 'tcpc_v6_entry', 'tcpc_v6_return', 'tcpc_state',
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

  it('when kprobes attach then it uses them', async () => {
    const h = harness({ kprobes: true });
    const done = run(['-L'], h.io);
    await Promise.resolve();
    expect(h.kernel.attached).toEqual([['tcpc_v4_entry', 'tcpc_v4_return', 'tcpc_v6_entry', 'tcpc_v6_return']]);
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
    expect(h.kernel.opened[0].spec.programs).toEqual(['tcpc_v4_entry', 'tcpc_v4_return', 'tcpc_v6_entry', 'tcpc_v6_return']);
    expect(h.kernel.closed).toBe(1);
  });

  it('with -L on tracepoints also hooks net_dev_queue, and sets defer_to_lport', async () => {
    const h = harness();
    const done = run(['-L', '--attach', 'tracepoint'], h.io);
    await Promise.resolve();
    expect(h.kernel.attached).toEqual([['tcpc_state', 'tcpc_dev_queue']]);
    expect(h.kernel.opened[0].spec.rodata.defer_to_lport).toEqual(Buffer.from([1]));
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
    const set = [...r.filter_ports].flatMap((byte, i) => [...Array(8).keys()].filter((b) => byte & (1 << b)).map((b) => i * 8 + b));
    expect(set).toEqual([80, 443]);
    h.stop();
    await done;
  });

  it('reads the clock and the UID in the kernel only where rows need them', async () => {
    // -t and -d print times; -U the UID; rows from a ring per CPU (or a
    // perf buffer) are merged by time. -d keeps one ring for all CPUs, so
    // that an answer is read before the connect it names.
    const cases: Array<[string[], boolean, boolean, number, number, string | undefined]> = [
      [[], true, false, 0, 0, undefined],
      [['-t'], true, false, 1, 0, undefined],
      [['-d'], true, true, 1, 0, undefined],
      [['-U'], true, false, 0, 1, undefined],
      [[], false, false, 1, 0, undefined],
      [[], true, true, 1, 0, 'events_per_cpu'],
      [['-U'], true, true, 1, 1, 'events_per_cpu'],
    ];
    const got = [];
    for (const [argv, ringbuf, perCpuRings] of cases) {
      const h = harness({ ringbuf, perCpuRings });
      const done = run(argv, h.io);
      await vi.waitFor(() => expect(h.kernel.opened).not.toEqual([])); // -d loads its module first
      const { rodata: r, perCpuRings: rings } = h.kernel.opened[0].spec;
      got.push([argv, ringbuf, perCpuRings, r.want_ts[0], r.want_uid[0], rings]);
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
    expect([r.filter_pid.readUInt32LE(), r.filter_uid_on[0], r.filter_ports_on[0], r.filter_family[0]]).toEqual([0, 0, 0, 0]);
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
    const dnsRecord = Buffer.alloc(16 + answer.length);
    dnsRecord.writeBigUInt64LE(1000n, 0);
    dnsRecord.writeUInt32LE(2, 8); // RECORD_DNS
    dnsRecord.writeUInt32LE(answer.length, 12);
    answer.copy(dnsRecord, 16);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(dnsRecord.length);
    const h = harness();
    const done = run(['-d'], h.io);
    await vi.waitFor(() => expect(h.kernel.attached).not.toEqual([])); // -d loads its module first
    expect(h.kernel.attached).toEqual([['tcpc_state', 'tcpc_dns_skb']]);
    expect(h.out.join('')).toMatch(/DPORT  QUERY\n$/);
    // The connect comes first in the batch but after the answer in time.
    h.kernel.emit!(Buffer.concat([record({ pid: 5, ts: 2000n, task: 'psql', dport: 5432, daddr: [192, 0, 2, 7] }), len, dnsRecord]), 0);
    expect(h.out.slice(1)).toEqual(['5       psql         4  127.0.0.1        192.0.2.7        5432   db.example\n']);
    h.stop();
    expect(await done).toBe(0);
  });

  it('prints banner, header, then rows of a batch in time order; lost samples go to stderr', async () => {
    const h = harness();
    const done = run([], h.io);
    await Promise.resolve();
    expect(h.out.join('')).toBe(
      'Tracing connect ... Hit Ctrl-C to end\nPID     COMM         IP SADDR            DADDR            DPORT \n',
    );
    h.kernel.emit!(
      Buffer.concat([
        record({ pid: 20, ts: 2000n, task: 'second', dport: 81 }),
        record({ pid: 10, ts: 1000n, task: 'first', dport: 80 }),
      ]),
      3,
    );
    expect(h.out.slice(1)).toEqual([
      '10      first        4  127.0.0.1        127.0.0.1        80     \n' +
        '20      second       4  127.0.0.1        127.0.0.1        81     \n',
    ]);
    expect(h.err).toContain('Possibly lost 3 samples');
    h.stop();
    expect(await done).toBe(0);
  });
});
