// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect's command line: bcc's flags and help texts, parsed by
// commander, laid out as argparse does, validated by src/options.ts.

import { Command, CommanderError, Option } from 'commander';

import { UsageError } from './errors.js';
import { help, usage, type OptionDoc } from './help.js';
import { parseAttach, parsePid, parsePorts, parseUid, type AttachMethod } from './options.js';

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
  { short: '-p', long: '--pid', metavar: 'PID', help: 'trace this PID only' },
  { short: '-P', long: '--port', metavar: 'PORT', help: 'comma-separated list of destination ports to trace.' },
  { short: '-4', long: '--ipv4', help: 'trace IPv4 family only', group: 'family' },
  { short: '-6', long: '--ipv6', help: 'trace IPv6 family only', group: 'family' },
  { short: '-L', long: '--lport', help: 'include LPORT on output' },
  { short: '-U', long: '--print-uid', help: 'include UID on output' },
  { short: '-u', long: '--uid', metavar: 'UID', help: 'trace this UID only' },
  { short: '-c', long: '--count', help: 'count connects per src ip and dest ip/port' },
  { long: '--cgroupmap', metavar: 'CGROUPMAP', help: 'trace cgroups in this BPF map only' },
  { long: '--mntnsmap', metavar: 'MNTNSMAP', help: 'trace mount namespaces in this BPF map only' },
  { short: '-d', long: '--dns', help: 'include likely DNS query associated with each connect' },
  {
    long: '--attach',
    metavar: 'METHOD',
    help: 'kernel hooks: auto (kprobes where the kernel has them, else tracepoints), kprobe, or tracepoint',
  },
];

export interface TcpconnectOptions {
  timestamp: boolean;
  pid?: number;
  ports?: number[];
  family: 0 | 4 | 6;
  lport: boolean;
  printUid: boolean;
  uid?: number;
  count: boolean;
  dns: boolean;
  cgroupmap?: string;
  mntnsmap?: string;
  attach: AttachMethod;
}

export type Parsed = { kind: 'help'; text: string } | { kind: 'run'; options: TcpconnectOptions };

export const USAGE = usage(PROG, OPTIONS);
export const HELP = help(PROG, DESCRIPTION, OPTIONS, EPILOG);

function program(): Command {
  const cmd = new Command(PROG)
    .exitOverride()
    .helpOption(false)
    .allowExcessArguments(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .addOption(new Option('-h, --help'));
  for (const doc of OPTIONS) {
    const flags = [doc.short, doc.long].filter(Boolean).join(', ') + (doc.metavar ? ` <${doc.metavar}>` : '');
    const opt = new Option(flags, doc.help);
    if (doc.group)
      opt.conflicts(
        OPTIONS.filter((o) => o.group === doc.group && o !== doc).map((o) => o.long.replace(/^--/, '')),
      );
    cmd.addOption(opt);
  }
  return cmd;
}

// "-p, --pid <PID>" -> "-p/--pid", as argparse names an argument.
const argName = (flags: string) => flags.replace(/ <.*>$/, '').replace(', ', '/');

/** commander's messages, worded as argparse words them. */
function argparseMessage(err: CommanderError, argv: string[]): string {
  const m = err.message.replace(/^error: /, '');
  let g: RegExpMatchArray | null;
  if ((g = m.match(/^option '(.+)' cannot be used with option '(.+)'$/))) {
    // argparse names the one given last first.
    const seenAt = (flags: string) => Math.max(...argName(flags).split('/').map((f) => argv.lastIndexOf(f)));
    const [first, last] = [g[1], g[2]].sort((a, b) => seenAt(a) - seenAt(b));
    return `argument ${argName(last)}: not allowed with argument ${argName(first)}`;
  }
  if ((g = m.match(/^option '(.+)' argument missing$/))) return `argument ${argName(g[1])}: expected one argument`;
  if ((g = m.match(/^unknown option '(.+)'$/))) return `unrecognized arguments: ${g[1]}`;
  if (err.code === 'commander.excessArguments')
    return `unrecognized arguments: ${argv.filter((a) => !a.startsWith('-')).slice(-1)[0] ?? ''}`;
  return m;
}

/** Parses argv (without node and script); throws UsageError. */
export function parseArgs(argv: string[]): Parsed {
  const cmd = program();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new UsageError(argparseMessage(err, argv));
    throw err;
  }
  const o = cmd.opts();
  if (o.help) return { kind: 'help', text: HELP };
  // bcc's words; bcc then exits 0, a usage error is what users expect.
  if (o.count && o.dns) throw new UsageError('you may not specify -d/--dns with -c/--count');
  return {
    kind: 'run',
    options: {
      timestamp: Boolean(o.timestamp),
      pid: o.pid === undefined ? undefined : parsePid(o.pid),
      ports: o.port === undefined ? undefined : parsePorts(o.port),
      family: o.ipv4 ? 4 : o.ipv6 ? 6 : 0,
      lport: Boolean(o.lport),
      printUid: Boolean(o.printUid),
      uid: o.uid === undefined ? undefined : parseUid(o.uid),
      count: Boolean(o.count),
      dns: Boolean(o.dns),
      cgroupmap: o.cgroupmap,
      mntnsmap: o.mntnsmap,
      attach: o.attach === undefined ? 'auto' : parseAttach(o.attach),
    },
  };
}
