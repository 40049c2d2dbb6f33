// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect: bcc's flags and help, its attach plan (which programs of
// bpf/tcpconnect.bpf.c, with what rodata), and its run: a row per connect,
// or -c's table at the end.

import { type AttachPlan, commonRodata, flag, openAndAttach, preflight, u32 } from './attach.js';
import {
  COMMON_OPTIONS,
  type CommonOptions,
  commonOptions,
  given,
  type Parsed,
  parseOptions,
  versionText,
} from './cli/args.js';
import { help, type OptionDoc, usage } from './cli/help.js';
import { parseUid } from './cli/values.js';
import { type ContainerPlan, containerFilters, NO_CONTAINER_FILTERS } from './containers.js';
import { decodeCounts } from './count.js';
import { UsageError } from './errors.js';
import { chooseTransport, streamRows } from './events.js';
import { BANNER, countJson, countTable, header, jsonRowParts, lostJson, rowParts, rowPieces } from './format.js';
import { whoFor } from './identity.js';
import type { NativeBinding, NativeTracer } from './native.js';
import { pendingBatch } from './result.js';
import { type Io, runTool, type Tool, traceUntilStopped } from './run.js';

export const PROG = 'tcpconnect';
const DESCRIPTION = 'Trace TCP connects';

// bcc's epilog, for the flags this tool accepts.
const EPILOG = `examples:
    ./tcpconnect           # trace all TCP connect()s
    ./tcpconnect -t        # include timestamps
    ./tcpconnect -T        # include the time of day (HH:MM:SS)
    ./tcpconnect -j        # one JSON object per connect, for jq and log stores
    ./tcpconnect -d        # include DNS queries associated with connects
    ./tcpconnect -p 181    # only trace PID 181
    ./tcpconnect -P 80     # only trace port 80
    ./tcpconnect -P 80,81  # only trace port 80 and 81
    ./tcpconnect -4        # only trace IPv4 family
    ./tcpconnect -6        # only trace IPv6 family
    ./tcpconnect -U        # include UID
    ./tcpconnect -u 1000   # only trace UID 1000
    ./tcpconnect -c        # count connects per src ip and dest ip/port
    ./tcpconnect -L        # include LPORT while printing outputs
    ./tcpconnect -R        # print each connect at its outcome: LAT(ms), RESULT
    ./tcpconnect -x        # only print connects that failed
    ./tcpconnect --cgroupmap mappath  # only trace cgroups in this BPF map
    ./tcpconnect --mntnsmap mappath   # only trace mount namespaces in the map`;

export const OPTIONS: OptionDoc[] = [
  { short: '-t', long: '--timestamp', help: 'include timestamp on output' },
  COMMON_OPTIONS.pid,
  { short: '-P', long: '--port', metavar: 'PORT', help: 'comma-separated list of destination ports to trace.' },
  COMMON_OPTIONS.ipv4,
  COMMON_OPTIONS.ipv6,
  { short: '-L', long: '--lport', help: 'include LPORT on output' },
  { short: '-U', long: '--print-uid', help: 'include UID on output' },
  { short: '-u', long: '--uid', metavar: 'UID', help: 'trace this UID only' },
  { short: '-c', long: '--count', help: 'count connects per src ip and dest ip/port' },
  COMMON_OPTIONS.cgroupmap,
  COMMON_OPTIONS.mntnsmap,
  { short: '-d', long: '--dns', help: 'include likely DNS query associated with each connect' },
  // Ours, after bcc's: bcc's usage line stays as it is.
  { short: '-T', long: '--time', help: 'include time column on output (HH:MM:SS)' },
  { short: '-j', long: '--json', help: 'print one JSON object per line (every field; no header)' },
  {
    short: '-R',
    long: '--result',
    help: 'print each connect when its outcome is known, with LAT(ms) and RESULT (OK or the errno); a connect that times out is printed minutes later',
  },
  { short: '-x', long: '--failed', help: "only print connects that failed, with -R's columns" },
  COMMON_OPTIONS.cgroup,
  COMMON_OPTIONS.netns,
  COMMON_OPTIONS.container,
  COMMON_OPTIONS.attach,
  COMMON_OPTIONS.version,
];

export interface TcpconnectOptions extends CommonOptions {
  json: boolean;
  time: boolean;
  timestamp: boolean;
  lport: boolean;
  printUid: boolean;
  uid?: number;
  count: boolean;
  dns: boolean;
  /** -R or -x: rows at the outcome, with LAT(ms) and RESULT */
  result: boolean;
  /** -x: only failures */
  failed: boolean;
}

export const USAGE = usage(PROG, OPTIONS);
export const HELP = help(PROG, DESCRIPTION, OPTIONS, EPILOG);

/** Parses argv (without node and script); throws UsageError. */
export function parseArgs(argv: string[]): Parsed<TcpconnectOptions> {
  const o = parseOptions(PROG, OPTIONS, argv);
  if (typeof o === 'string') return { kind: 'print', text: o === 'help' ? HELP : versionText(PROG) };
  // bcc's words; bcc then exits 0, a usage error is what users expect.
  if (o.count && o.dns) throw new UsageError('you may not specify -d/--dns with -c/--count');
  const uid = given(o.uid);
  return {
    kind: 'run',
    options: {
      ...commonOptions(o),
      json: Boolean(o.json),
      time: Boolean(o.time),
      timestamp: Boolean(o.timestamp),
      lport: Boolean(o.lport),
      printUid: Boolean(o.printUid),
      uid: uid === undefined ? undefined : parseUid(uid),
      count: Boolean(o.count),
      dns: Boolean(o.dns),
      result: Boolean(o.result || o.failed),
      failed: Boolean(o.failed),
    },
  };
}

/** Which programs, with what rodata; --cgroupmap/--mntnsmap's come from containerFilters(). */
export function attachPlan(
  opts: TcpconnectOptions,
  native: NativeBinding,
  containers: ContainerPlan = NO_CONTAINER_FILTERS,
  connectRoot: () => string | null = () => null,
): AttachPlan {
  // -R and -x hold each row for its outcome; -c -x counts the failures,
  // -c -R is -c (every connect is counted at once).
  const result = opts.result && (!opts.count || opts.failed);
  // -c ignores -L (as bcc): counts need no local port, so nothing waits for
  // it. -j prints every field, the local port included. A row held for its
  // outcome gets its port there.
  const lport = (opts.lport || opts.json) && !opts.count && !result;
  // On tracepoints the local port is chosen after SYN_SENT. Where cgroup v2
  // is mounted, a sock_ops program at its root sends the whole row from
  // tcp_connect(), once per connect, port chosen. Else the row waits in a
  // map for the SYN's net_dev_queue, which every packet sent runs. Asked
  // only when a row needs its port: the answer loads probe programs.
  const cgroupRoot = lport ? connectRoot() : null;
  const connectHook = lport && cgroupRoot !== null;
  const dnsHook = opts.dns ? ['tcpc_dns_skb'] : [];
  return {
    tool: PROG,
    object: 'tcpconnect',
    rodata: {
      ...commonRodata(opts, native.records.portBitmapBytes),
      filter_uid_on: flag(opts.uid !== undefined),
      filter_uid: u32(opts.uid ?? 0),
      defer_to_lport: flag(lport && !connectHook),
      do_count: flag(opts.count),
      want_result: flag(result),
      failed_only: flag(result && opts.failed),
      want_uid: flag(opts.printUid || opts.json), // a helper call saved where nothing prints it
      ...containers.rodata,
    },
    reuseMaps: containers.reuseMaps,
    mapUpdates: containers.mapUpdates,
    kprobe: {
      // Attached in this order: each kretprobe before its kprobe, so that no
      // call entered between the two is taken for a missed kretprobe; the
      // outcome's hook before any row waits for it.
      programs: [
        ...(result ? ['tcpc_outcome'] : []),
        'tcpc_v4_return',
        'tcpc_v6_return',
        ...(opts.dns ? ['tcpc_dns4_return', 'tcpc_dns6_return'] : []),
        'tcpc_v4_entry',
        'tcpc_v6_entry',
        ...(opts.dns ? ['tcpc_dns4_entry', 'tcpc_dns6_entry'] : []),
      ],
      hooks: `kprobes on tcp_v4_connect, tcp_v6_connect${opts.dns ? ', udp_recvmsg, udpv6_recvmsg' : ''}${
        result ? ', tracepoint sock:inet_sock_set_state' : ''
      }`,
    },
    tracepoint: result
      ? {
          // The connect syscall's exit has the failures before any SYN.
          programs: ['tcpc_outcome', 'tcpc_call_exit', 'tcpc_state', 'tcpc_call_enter', ...dnsHook],
          hooks: `tracepoints sock:inet_sock_set_state, syscalls:sys_enter_connect, syscalls:sys_exit_connect${
            opts.dns ? ', net:netif_receive_skb' : ''
          }`,
        }
      : connectHook
        ? {
            programs: ['tcpc_connect_cb', ...dnsHook],
            hooks: `cgroup sock_ops (TCP connect) at ${cgroupRoot}${opts.dns ? ', tracepoint net:netif_receive_skb' : ''}`,
            cgroupRoot,
          }
        : {
            programs: ['tcpc_state', ...(lport ? ['tcpc_dev_queue'] : []), ...dnsHook],
            hooks: `${lport || opts.dns ? 'tracepoints' : 'tracepoint'} sock:inet_sock_set_state${
              lport ? ', net:net_dev_queue' : ''
            }${opts.dns ? ', net:netif_receive_skb' : ''}`,
          },
    method: opts.attach,
  };
}

async function trace(opts: TcpconnectOptions, io: Io): Promise<number> {
  const native = preflight(PROG, io);
  // Only -d needs dns-packet and lru-cache: loading them costs start-up time.
  const dns = opts.dns ? await import('./dns/index.js') : undefined;
  const containers = containerFilters(PROG, native, opts);
  const rows = new native.RowWriter(
    rowPieces(opts.json ? jsonRowParts('connect', opts.result) : rowParts(opts)),
    whoFor(opts),
  );
  // -d: an answer must be read before the connect it names; -t, -d, -j print time.
  const transport = chooseTransport(
    native,
    { ordered: opts.dns, stamped: opts.timestamp || opts.dns || opts.json },
    io.transportCap(),
  );
  let attached: ReturnType<typeof openAndAttach>;
  try {
    attached = openAndAttach(
      native,
      attachPlan(opts, native, containers, () => {
        const root = io.cgroup2Root();
        return root !== null && native.connectRowsSupported() ? root : null;
      }),
      transport,
      io.kprobesAvailable(),
    );
  } finally {
    containers.close(); // the loaded object holds its own fds of the maps
  }
  const cache = dns && new dns.DnsCache();
  let write: ((batch: Buffer) => void) | undefined;
  const start = (tracer: NativeTracer): string => {
    const suffixes = cache && dns?.dnsQueries(native.records, cache, opts.json);
    write = streamRows(PROG, tracer, io, rows, { suffixes, lostLine: opts.json ? lostJson : undefined });
    // -j: lines only. -c prints the banner, then nothing until it is stopped (as bcc).
    if (opts.json) return '';
    return opts.count ? `${BANNER}\n` : `${BANNER}\n${header(opts)}\n`;
  };
  const printCounts = (tracer: NativeTracer): void => {
    const overflow = tracer.readMap('count_overflow')[0]?.[1].readBigUInt64LE(0) ?? 0n;
    if (overflow)
      io.err(
        `${PROG}: ${overflow} connects were not counted: the count map was full (${native.records.countMapEntries} flows)`,
      );
    const flows = (ip: 4 | 6) => decodeCounts(native, tracer.readMap(`ipv${ip}_count`), ip);
    io.out((opts.json ? countJson : countTable)(flows(4), flows(6)));
  };
  const finish = (tracer: NativeTracer): void => {
    if (opts.count) printCounts(tracer);
    // -R, -x: connects still waiting for their outcome get their row now.
    else if (opts.result) {
      const values = tracer.readMap('pending').map(([, value]) => value);
      if (values.length) write?.(pendingBatch(values, native.records, process.hrtime.bigint()));
    }
    if (cache?.rejected) io.err(`${PROG}: ${cache.rejected} DNS answers could not be read (malformed or hostile)`);
  };
  return traceUntilStopped(io, attached, start, finish);
}

export const TCPCONNECT: Tool<TcpconnectOptions> = { prog: PROG, usage: USAGE, parse: parseArgs, trace };

export function run(argv: string[], io: Io): Promise<number> {
  return runTool(TCPCONNECT, argv, io);
}
