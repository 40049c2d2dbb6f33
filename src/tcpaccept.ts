// SPDX-License-Identifier: Apache-2.0
//
// tcpaccept as a function: argv in, rows out, exit code back. The same
// addon, record, decoder and plumbing as tcpconnect; its own object
// (bpf/tcpaccept.bpf.c), flags and columns.

import { containerFilters } from './containers.js';
import { acceptHeader, acceptRowParts, rowPieces } from './format.js';
import type { NativeBinding } from './native.js';
import { openAndAttach, type AttachPlan } from './session.js';
import { PROG, USAGE, parseArgs, type TcpacceptOptions } from './tcpaccept-cli.js';
import { commonRodata, flag, preflight, runTool, streamRows, traceUntilStopped, type Io, type Tool } from './tool.js';

export function attachPlan(
  opts: TcpacceptOptions,
  native: NativeBinding,
  containers: ReturnType<typeof containerFilters> = { rodata: {}, reuseMaps: {} },
): AttachPlan {
  return {
    tool: PROG,
    object: 'tcpaccept',
    rodata: {
      ...commonRodata(opts, native.portBitmapBytes),
      want_ts: flag(opts.timestamp),
      want_uid: flag(false), // no UID column
      ...containers.rodata,
    },
    reuseMaps: containers.reuseMaps,
    kprobe: { programs: ['tcpa_accept_ret'], hooks: 'kretprobe on inet_csk_accept' },
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
  const rows = new native.RowWriter(rowPieces(acceptRowParts(opts)));
  const attached = openAndAttach(native, attachPlan(opts, native, containers), io.kprobesAvailable());
  return traceUntilStopped(io, attached, (tracer) => {
    streamRows(PROG, tracer, attached.eventsMap, io, rows);
    return `${acceptHeader(opts)}\n`; // bcc's tcpaccept has no banner
  });
}

export const TCPACCEPT: Tool<TcpacceptOptions> = { prog: PROG, usage: USAGE, parse: parseArgs, trace };

export function run(argv: string[], io: Io): Promise<number> {
  return runTool(TCPACCEPT, argv, io);
}
