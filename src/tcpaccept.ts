// SPDX-License-Identifier: Apache-2.0
//
// tcpaccept: bcc's tools/tcpaccept.py flags and help, its attach plan
// (bpf/tcpaccept.bpf.c), and its run: a row per accept. The record and the
// rest of the plumbing are tcpconnect's.

import { type AttachPlan, commonRodata, flag, openAndAttach, preflight } from './attach.js';
import {
  COMMON_OPTIONS,
  type CommonOptions,
  commonOptions,
  type Parsed,
  parseOptions,
  versionText,
} from './cli/args.js';
import { help, type OptionDoc, usage } from './cli/help.js';
import { type ContainerPlan, containerFilters, NO_CONTAINER_FILTERS } from './containers.js';
import { chooseTransport, streamRows } from './events.js';
import { acceptHeader, acceptRowParts, jsonRowParts, lostJson, rowPieces } from './format.js';
import { whoFor } from './identity.js';
import type { NativeBinding } from './native.js';
import { type Io, runTool, type Tool, traceUntilStopped } from './run.js';

export const PROG = 'tcpaccept';
const DESCRIPTION = 'Trace TCP accepts';

const EPILOG = `examples:
    ./tcpaccept           # trace all TCP accept()s
    ./tcpaccept -t        # include timestamps
    ./tcpaccept -P 80,81  # only trace port 80 and 81
    ./tcpaccept -p 181    # only trace PID 181
    ./tcpaccept --cgroupmap mappath  # only trace cgroups in this BPF map
    ./tcpaccept --mntnsmap mappath   # only trace mount namespaces in the map
    ./tcpaccept -4        # trace IPv4 family
    ./tcpaccept -6        # trace IPv6 family
    ./tcpaccept -j        # one JSON object per accept`;

export const OPTIONS: OptionDoc[] = [
  { short: '-T', long: '--time', help: 'include time column on output (HH:MM:SS)' },
  { short: '-t', long: '--timestamp', help: 'include timestamp on output' },
  COMMON_OPTIONS.pid,
  { short: '-P', long: '--port', metavar: 'PORT', help: 'comma-separated list of local ports to trace' },
  COMMON_OPTIONS.ipv4,
  COMMON_OPTIONS.ipv6,
  COMMON_OPTIONS.cgroupmap,
  COMMON_OPTIONS.mntnsmap,
  { short: '-j', long: '--json', help: 'print one JSON object per line (every field; no header)' },
  COMMON_OPTIONS.cgroup,
  COMMON_OPTIONS.netns,
  COMMON_OPTIONS.container,
  COMMON_OPTIONS.attach,
  COMMON_OPTIONS.version,
];

export interface TcpacceptOptions extends CommonOptions {
  json: boolean;
  time: boolean;
  timestamp: boolean;
}

export const USAGE = usage(PROG, OPTIONS);
export const HELP = help(PROG, DESCRIPTION, OPTIONS, EPILOG);

export function parseArgs(argv: string[]): Parsed<TcpacceptOptions> {
  const o = parseOptions(PROG, OPTIONS, argv);
  if (typeof o === 'string') return { kind: 'print', text: o === 'help' ? HELP : versionText(PROG) };
  return {
    kind: 'run',
    options: {
      ...commonOptions(o),
      json: Boolean(o.json),
      time: Boolean(o.time),
      timestamp: Boolean(o.timestamp),
    },
  };
}

export function attachPlan(
  opts: TcpacceptOptions,
  native: NativeBinding,
  containers: ContainerPlan = NO_CONTAINER_FILTERS,
): AttachPlan {
  return {
    tool: PROG,
    object: 'tcpaccept',
    rodata: {
      ...commonRodata(opts, native.records.portBitmapBytes),
      want_uid: flag(false), // no UID column
      ...containers.rodata,
    },
    reuseMaps: containers.reuseMaps,
    mapUpdates: containers.mapUpdates,
    // The accept() exits too, for an accept() already waiting when tracing
    // starts, which the kretprobe cannot see; it reports every other one.
    kprobe: {
      programs: ['tcpa_accept_ret', 'tcpa_accept4', 'tcpa_accept'],
      hooks: 'kretprobe on inet_csk_accept, and tracepoints syscalls:sys_exit_accept4, syscalls:sys_exit_accept',
    },
    // In the accepting task: the fd accept() returns leads to the sock.
    tracepoint: {
      programs: ['tcpa_accept4', 'tcpa_accept'],
      hooks: 'tracepoints syscalls:sys_exit_accept4, syscalls:sys_exit_accept',
    },
    method: opts.attach,
  };
}

async function trace(opts: TcpacceptOptions, io: Io): Promise<number> {
  const native = preflight(PROG, io);
  const containers = containerFilters(PROG, native, opts);
  const rows = new native.RowWriter(rowPieces(opts.json ? jsonRowParts('accept') : acceptRowParts(opts)), whoFor(opts));
  const transport = chooseTransport(
    native,
    { ordered: false, stamped: opts.timestamp || opts.json },
    io.transportCap(),
  );
  let attached: ReturnType<typeof openAndAttach>;
  try {
    attached = openAndAttach(native, attachPlan(opts, native, containers), transport, io.kprobesAvailable());
  } finally {
    containers.close(); // the loaded object holds its own fds of the maps
  }
  return traceUntilStopped(io, attached, (tracer) => {
    streamRows(PROG, tracer, io, rows, { lostLine: opts.json ? lostJson : undefined });
    return opts.json ? '' : `${acceptHeader(opts)}\n`; // bcc's tcpaccept has no banner
  });
}

export const TCPACCEPT: Tool<TcpacceptOptions> = { prog: PROG, usage: USAGE, parse: parseArgs, trace };

export function run(argv: string[], io: Io): Promise<number> {
  return runTool(TCPACCEPT, argv, io);
}
