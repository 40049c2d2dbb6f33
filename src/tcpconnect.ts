// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect as a function: argv in, rows out, exit code back. Everything
// outside (stdout, stderr, the addon, signals) comes in through Io, so the
// whole run can be tested with a fake native binding.

import { HELP, PROG, USAGE, parseArgs, type TcpconnectOptions } from './cli.js';
import { checkFilterMap } from './containers.js';
import { decodeCounts } from './count.js';
import { decodeBatch } from './decode.js';
import { DnsCache } from './dns.js';
import { FatalError, UsageError } from './errors.js';
import { BANNER, RowFormatter, countTable, header } from './format.js';
import type { NativeBinding } from './native.js';
import { openAndAttach, type AttachPlan } from './session.js';

export interface Io {
  /** rows and the header: latin1 text, written as it comes */
  out(text: string): void;
  /** notices, warnings, errors: one line each */
  err(line: string): void;
  native(): NativeBinding;
  geteuid(): number;
  btfAvailable(): boolean;
  /** resolves when the run should end: a signal, or the reader of stdout went away */
  stopped(): Promise<void>;
}

/** COUNT_MAP_ENTRIES of bpf/tcpconnect.h, for the message when a map fills. */
const COUNT_MAP_ENTRIES = 65536;

/** Perf buffer pages per CPU (bcc: 8); more absorbs bursts of connects. */
export const PERF_PAGES = 64;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export function rodata(opts: TcpconnectOptions, portBitmapBytes: number): Record<string, Buffer> {
  const ports = Buffer.alloc(portBitmapBytes);
  for (const p of opts.ports ?? []) ports[p >> 3] |= 1 << (p & 7);
  return {
    filter_pid: u32(opts.pid ?? 0),
    filter_uid_on: Buffer.from([opts.uid === undefined ? 0 : 1]),
    filter_uid: u32(opts.uid ?? 0),
    filter_ports_on: Buffer.from([opts.ports ? 1 : 0]),
    filter_ports: ports,
    filter_family: Buffer.from([opts.family]),
    // -c ignores -L (as bcc): counts need no local port, so nothing waits for it.
    defer_to_lport: Buffer.from([opts.lport && !opts.count ? 1 : 0]),
    do_count: Buffer.from([opts.count ? 1 : 0]),
    filter_cgroup: Buffer.from([opts.cgroupmap ? 1 : 0]),
    filter_mntns: Buffer.from([opts.mntnsmap ? 1 : 0]),
  };
}

export function attachPlan(opts: TcpconnectOptions, native: NativeBinding): AttachPlan {
  const lport = opts.lport && !opts.count;
  return {
    tool: PROG,
    object: 'tcpconnect',
    rodata: rodata(opts, native.portBitmapBytes),
    reuseMaps: {
      ...(opts.cgroupmap ? { cgroup_filter: opts.cgroupmap } : {}),
      ...(opts.mntnsmap ? { mntns_filter: opts.mntnsmap } : {}),
    },
    kprobe: {
      programs: [
        'tcpc_v4_entry', 'tcpc_v4_return', 'tcpc_v6_entry', 'tcpc_v6_return',
        ...(opts.dns ? ['tcpc_dns4_entry', 'tcpc_dns4_return', 'tcpc_dns6_entry', 'tcpc_dns6_return'] : []),
      ],
      hooks: `kprobes on tcp_v4_connect, tcp_v6_connect${opts.dns ? ', udp_recvmsg, udpv6_recvmsg' : ''}`,
    },
    // -L on tracepoints: the local port is chosen after SYN_SENT; the SYN's
    // net_dev_queue (in the connecting thread) completes the row.
    tracepoint: {
      programs: ['tcpc_state', ...(lport ? ['tcpc_dev_queue'] : []), ...(opts.dns ? ['tcpc_dns_skb'] : [])],
      hooks: `${lport || opts.dns ? 'tracepoints' : 'tracepoint'} sock:inet_sock_set_state${
        lport ? ', net:net_dev_queue' : ''
      }${opts.dns ? ', net:netif_receive_skb' : ''}`,
    },
    method: opts.attach,
  };
}

export async function run(argv: string[], io: Io): Promise<number> {
  let opts: TcpconnectOptions;
  try {
    const parsed = parseArgs(argv);
    if (parsed.kind === 'help') {
      io.out(HELP);
      return 0;
    }
    opts = parsed.options;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(USAGE);
    io.err(`${PROG}: error: ${err.message}`);
    return err.exitCode;
  }

  try {
    return await trace(opts, io);
  } catch (err) {
    if (!(err instanceof FatalError)) throw err;
    io.err(err.message);
    return err.exitCode;
  }
}

async function trace(opts: TcpconnectOptions, io: Io): Promise<number> {
  if (io.geteuid() !== 0) throw new FatalError(`${PROG}: must be run as root (try: sudo ${PROG})`);
  if (!io.btfAvailable())
    throw new FatalError(
      `${PROG}: this kernel has no BTF (/sys/kernel/btf/vmlinux); it needs CONFIG_DEBUG_INFO_BTF=y`,
    );
  const native = io.native();
  if (opts.cgroupmap)
    checkFilterMap(PROG, native, { flag: '--cgroupmap', path: opts.cgroupmap, keys: 'cgroup v2 ids' });
  if (opts.mntnsmap)
    checkFilterMap(PROG, native, { flag: '--mntnsmap', path: opts.mntnsmap, keys: 'mount namespace ids' });
  const { tracer, notice } = openAndAttach(native, attachPlan(opts, native));
  try {
    const rows = new RowFormatter(opts);
    const dns = opts.dns ? new DnsCache() : undefined;
    tracer.start('events', PERF_PAGES, (batch, lost) => {
      if (lost) io.err(`Possibly lost ${lost} samples`);
      if (!batch) return;
      const { records, malformed } = decodeBatch(batch);
      if (malformed) io.err(`${PROG}: skipped ${malformed} malformed records`);
      let out = '';
      // In time order: an answer is in the cache before the connect it led to.
      for (const r of records) {
        if (r.kind === 'dns') dns?.add(r.answer.payload, r.answer.tsNs);
        else out += `${rows.row(r.event, dns ? dns.query(r.event.daddr, r.event.tsNs) : '')}\n`;
      }
      if (out) io.out(out);
    });
    io.err(notice);
    // -c prints the banner, then nothing until it is stopped (as bcc).
    io.out(opts.count ? `${BANNER}\n` : `${BANNER}\n${header(opts)}\n`);
    await io.stopped();
    if (opts.count) {
      const overflow = tracer.readMap('count_overflow')[0]?.[1].readBigUInt64LE(0) ?? 0n;
      if (overflow)
        io.err(`${PROG}: ${overflow} connects were not counted: the count map was full (${COUNT_MAP_ENTRIES} flows)`);
      io.out(countTable(decodeCounts(tracer.readMap('ipv4_count'), 4), decodeCounts(tracer.readMap('ipv6_count'), 6)));
    }
  } finally {
    tracer.close();
  }
  return 0;
}
