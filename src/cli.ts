// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect's command line: bcc's flags and help texts, parsed by
// commander, laid out as argparse does, validated by src/options.ts.

import { COMMON_OPTIONS, given as str, parseOptions } from './args.js';
import { UsageError } from './errors.js';
import { help, usage, type OptionDoc } from './help.js';
import { commonOptions, parseUid, type CommonOptions } from './options.js';
import type { Parsed as ToolParsed } from './tool.js';

export const PROG = 'tcpconnect';
const DESCRIPTION = 'Trace TCP connects';

// bcc's epilog, for the flags this tool accepts.
const EPILOG = `examples:
    ./tcpconnect           # trace all TCP connect()s
    ./tcpconnect -t        # include timestamps
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
  COMMON_OPTIONS.attach,
];

export interface TcpconnectOptions extends CommonOptions {
  timestamp: boolean;
  lport: boolean;
  printUid: boolean;
  uid?: number;
  count: boolean;
  dns: boolean;
}

export type Parsed = ToolParsed<TcpconnectOptions>;

export const USAGE = usage(PROG, OPTIONS);
export const HELP = help(PROG, DESCRIPTION, OPTIONS, EPILOG);

/** Parses argv (without node and script); throws UsageError. */
export function parseArgs(argv: string[]): Parsed {
  const o = parseOptions(PROG, OPTIONS, argv);
  if (o === 'help') return { kind: 'help', text: HELP };
  // bcc's words; bcc then exits 0, a usage error is what users expect.
  if (o.count && o.dns) throw new UsageError('you may not specify -d/--dns with -c/--count');
  return {
    kind: 'run',
    options: {
      ...commonOptions(o),
      timestamp: Boolean(o.timestamp),
      lport: Boolean(o.lport),
      printUid: Boolean(o.printUid),
      uid: o.uid === undefined ? undefined : parseUid(str(o.uid)!),
      count: Boolean(o.count),
      dns: Boolean(o.dns),
    },
  };
}
