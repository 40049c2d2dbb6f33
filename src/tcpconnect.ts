// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect as a function: argv in, rows out, exit code back (the shared
// plumbing is in tool.ts).

import { PROG, USAGE, parseArgs, type TcpconnectOptions } from './cli.js';
import { containerFilters } from './containers.js';
import { decodeCounts } from './count.js';
import { decodeBatch } from './decode.js';
import type { DnsCache } from './dns.js';
import { BANNER, countTable, header, rowParts, rowPieces } from './format.js';
import type { NativeBinding, NativeTracer } from './native.js';
import { openAndAttach, type AttachPlan } from './session.js';
import {
  commonRodata, flag, preflight, runTool, streamRows, traceUntilStopped, u32, type Io, type Tool,
} from './tool.js';

/** COUNT_MAP_ENTRIES of bpf/tcpconnect.h, for the message when a map fills. */
const COUNT_MAP_ENTRIES = 65536;

/** tcpconnect's rodata; --cgroupmap/--mntnsmap's come from containerFilters(). */
export function rodata(opts: TcpconnectOptions, portBitmapBytes: number): Record<string, Buffer> {
  return {
    ...commonRodata(opts, portBitmapBytes),
    filter_uid_on: flag(opts.uid !== undefined),
    filter_uid: u32(opts.uid ?? 0),
    // -c ignores -L (as bcc): counts need no local port, so nothing waits for it.
    defer_to_lport: flag(opts.lport && !opts.count),
    do_count: flag(opts.count),
    // Helper calls saved where nothing prints their fields.
    want_ts: flag(opts.timestamp || opts.dns), // -d: how long after its answer
    want_uid: flag(opts.printUid),
  };
}

export function attachPlan(
  opts: TcpconnectOptions,
  native: NativeBinding,
  containers: ReturnType<typeof containerFilters> = { rodata: {}, reuseMaps: {} },
): AttachPlan {
  const lport = opts.lport && !opts.count;
  return {
    tool: PROG,
    object: 'tcpconnect',
    rodata: { ...rodata(opts, native.portBitmapBytes), ...containers.rodata },
    reuseMaps: containers.reuseMaps,
    ordered: opts.dns, // an answer must be read before the connect it names
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

export const TCPCONNECT: Tool<TcpconnectOptions> = { prog: PROG, usage: USAGE, parse: parseArgs, trace };

export function run(argv: string[], io: Io): Promise<number> {
  return runTool(TCPCONNECT, argv, io);
}

/** -d: each batch's connects' QUERY column, from the DNS answers read before each (in time order). */
function queries(dns: DnsCache): (batch: Buffer) => string[] {
  return (batch) => {
    const out: string[] = [];
    for (const r of decodeBatch(batch).records) {
      if (r.kind === 'dns') dns.add(r.answer.payload, r.answer.tsUs);
      else out[r.seq] = dns.query(r.event.daddr, r.event.tsUs);
    }
    return out;
  };
}

async function trace(opts: TcpconnectOptions, io: Io): Promise<number> {
  const native = preflight(PROG, io);
  // Only -d needs dns-packet and lru-cache: loading them costs start-up time.
  const dnsModule = opts.dns ? await import('./dns.js') : undefined;
  const containers = containerFilters(PROG, native, opts);
  const rows = new native.RowWriter(rowPieces(rowParts(opts)));
  const attached = openAndAttach(native, attachPlan(opts, native, containers), io.kprobesAvailable());
  const start = (tracer: NativeTracer): string => {
    streamRows(PROG, tracer, attached.eventsMap, io, rows, dnsModule && queries(new dnsModule.DnsCache()));
    // -c prints the banner, then nothing until it is stopped (as bcc).
    return opts.count ? `${BANNER}\n` : `${BANNER}\n${header(opts)}\n`;
  };
  const printCounts = (tracer: NativeTracer): void => {
    const overflow = tracer.readMap('count_overflow')[0]?.[1].readBigUInt64LE(0) ?? 0n;
    if (overflow)
      io.err(`${PROG}: ${overflow} connects were not counted: the count map was full (${COUNT_MAP_ENTRIES} flows)`);
    io.out(countTable(decodeCounts(tracer.readMap('ipv4_count'), 4), decodeCounts(tracer.readMap('ipv6_count'), 6)));
  };
  return traceUntilStopped(io, attached, start, opts.count ? printCounts : undefined);
}
