// SPDX-License-Identifier: Apache-2.0
//
// tcpaccept's command line: bcc's tools/tcpaccept.py flags and help texts.

import { COMMON_OPTIONS, parseOptions } from './args.js';
import { help, usage, type OptionDoc } from './help.js';
import { commonOptions, type CommonOptions } from './options.js';
import type { Parsed } from './tool.js';

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
    ./tcpaccept -6        # trace IPv6 family`;

export const OPTIONS: OptionDoc[] = [
  { short: '-T', long: '--time', help: 'include time column on output (HH:MM:SS)' },
  { short: '-t', long: '--timestamp', help: 'include timestamp on output' },
  COMMON_OPTIONS.pid,
  { short: '-P', long: '--port', metavar: 'PORT', help: 'comma-separated list of local ports to trace' },
  COMMON_OPTIONS.ipv4,
  COMMON_OPTIONS.ipv6,
  COMMON_OPTIONS.cgroupmap,
  COMMON_OPTIONS.mntnsmap,
  COMMON_OPTIONS.attach,
];

export interface TcpacceptOptions extends CommonOptions {
  time: boolean;
  timestamp: boolean;
}

export const USAGE = usage(PROG, OPTIONS);
export const HELP = help(PROG, DESCRIPTION, OPTIONS, EPILOG);

export function parseArgs(argv: string[]): Parsed<TcpacceptOptions> {
  const o = parseOptions(PROG, OPTIONS, argv);
  if (o === 'help') return { kind: 'help', text: HELP };
  return {
    kind: 'run',
    options: {
      ...commonOptions(o),
      time: Boolean(o.time),
      timestamp: Boolean(o.timestamp),
    },
  };
}
