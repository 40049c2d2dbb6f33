// SPDX-License-Identifier: Apache-2.0
//
// Command lines parsed by commander from an option table (OptionDoc, the
// same table help.ts lays out), with argparse's exit status and wording for
// its errors; the options both tools take, and their values checked
// (values.ts has the parsers).

import { Command, CommanderError, Option } from 'commander';
import { parseCgroupDir, parseNetns } from '../cgroups.js';
import { UsageError } from '../errors.js';
import { version } from '../package.js';
import type { OptionDoc } from './help.js';
import { type AttachMethod, parseAttach, parseMapPath, parsePid, parsePorts } from './values.js';

type RawOptions = Record<string, string | string[] | boolean | undefined>;

function program(prog: string, options: OptionDoc[]): Command {
  const cmd = new Command(prog)
    .exitOverride()
    .helpOption(false)
    .allowExcessArguments(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .addOption(new Option('-h, --help'));
  for (const doc of options) {
    const flags = [doc.short, doc.long].filter(Boolean).join(', ') + (doc.metavar ? ` <${doc.metavar}>` : '');
    const opt = new Option(flags, doc.help);
    if (doc.repeat) opt.argParser((value: string, given?: string[]) => [...(given ?? []), value]);
    if (doc.group)
      opt.conflicts(options.filter((o) => o.group === doc.group && o !== doc).map((o) => o.long.replace(/^--/, '')));
    cmd.addOption(opt);
  }
  return cmd;
}

// "-p, --pid <PID>" -> "-p/--pid", as argparse names an argument.
const argName = (flags: string) => flags.replace(/ <.*>$/, '').replace(', ', '/');

/** commander's messages, worded as argparse words them. */
function argparseMessage(err: CommanderError, argv: string[]): string {
  const m = err.message.replace(/^error: /, '');
  const conflict = m.match(/^option '(.+)' cannot be used with option '(.+)'$/);
  if (conflict) {
    // argparse names the one given last first.
    const seenAt = (flags: string) =>
      Math.max(
        ...argName(flags)
          .split('/')
          .map((f) => argv.lastIndexOf(f)),
      );
    const [first, last] = [conflict[1], conflict[2]].sort((a, b) => seenAt(a) - seenAt(b));
    return `argument ${argName(last)}: not allowed with argument ${argName(first)}`;
  }
  const missing = m.match(/^option '(.+)' argument missing$/);
  if (missing) return `argument ${argName(missing[1])}: expected one argument`;
  const unknown = m.match(/^unknown option '(.+)'$/);
  if (unknown) return `unrecognized arguments: ${unknown[1]}`;
  if (err.code === 'commander.excessArguments')
    return `unrecognized arguments: ${argv.filter((a) => !a.startsWith('-')).slice(-1)[0] ?? ''}`;
  return m;
}

/** The options given (by commander's camelCase names), or 'help' for -h, 'version' for -V; throws UsageError. */
export function parseOptions(prog: string, options: OptionDoc[], argv: string[]): RawOptions | 'help' | 'version' {
  const cmd = program(prog, options);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new UsageError(argparseMessage(err, argv));
    throw err;
  }
  const o = cmd.opts() as RawOptions;
  return o.help ? 'help' : o.version ? 'version' : o;
}

/** What -V prints, as argparse's action='version' with '%(prog)s VERSION'. */
export const versionText = (prog: string): string => `${prog} ${version()}\n`;

/** Options both tools take, with bcc's help texts. */
export const COMMON_OPTIONS = {
  pid: { short: '-p', long: '--pid', metavar: 'PID', help: 'trace this PID only' },
  ipv4: { short: '-4', long: '--ipv4', help: 'trace IPv4 family only', group: 'family' },
  ipv6: { short: '-6', long: '--ipv6', help: 'trace IPv6 family only', group: 'family' },
  cgroupmap: { long: '--cgroupmap', metavar: 'CGROUPMAP', help: 'trace cgroups in this BPF map only' },
  mntnsmap: { long: '--mntnsmap', metavar: 'MNTNSMAP', help: 'trace mount namespaces in this BPF map only' },
  attach: {
    long: '--attach',
    metavar: 'METHOD',
    help: 'kernel hooks: auto (kprobes where the kernel has them, else tracepoints), kprobe, or tracepoint',
  },
  cgroup: {
    long: '--cgroup',
    metavar: 'PATH',
    help: 'trace tasks in this cgroup v2 directory or below it only (repeatable)',
    repeat: true,
  },
  netns: {
    long: '--netns',
    metavar: 'PATH',
    help: 'trace tasks in this network namespace only, e.g. /run/netns/NAME (repeatable)',
    repeat: true,
  },
  container: {
    short: '-C',
    long: '--container',
    help: 'include CONTAINER column: container id, else systemd unit, else cgroup path',
  },
  version: { short: '-V', long: '--version', help: "show program's version number and exit" },
} satisfies Record<string, OptionDoc>;

/** An option's value as given, if it was. */
export const given = (v: string | string[] | boolean | undefined): string | undefined =>
  typeof v === 'string' ? v : undefined;

/** A repeatable option's values, in order ([] if not given). */
const repeated = (v: string | string[] | boolean | undefined): string[] => (Array.isArray(v) ? v : []);

/** What both tools take: -p, -P, -4/-6, --cgroupmap, --mntnsmap, --cgroup, --netns, -C, --attach. */
export interface CommonOptions {
  pid?: number;
  ports?: number[];
  family: 0 | 4 | 6;
  cgroupmap?: string;
  mntnsmap?: string;
  /** --cgroup: cgroup v2 directories, checked */
  cgroups: string[];
  /** --netns: namespace files (netnsInode checks they are network namespaces) */
  netns: string[];
  /** -C */
  container: boolean;
  attach: AttachMethod;
}

/** Those options' values, as commander gave them, checked. */
export function commonOptions(o: RawOptions): CommonOptions {
  const pid = given(o.pid);
  const port = given(o.port);
  const attach = given(o.attach);
  const cgroupmap = given(o.cgroupmap);
  const mntnsmap = given(o.mntnsmap);
  return {
    pid: pid === undefined ? undefined : parsePid(pid),
    ports: port === undefined ? undefined : parsePorts(port),
    family: o.ipv4 ? 4 : o.ipv6 ? 6 : 0,
    cgroupmap: cgroupmap === undefined ? undefined : parseMapPath('--cgroupmap', cgroupmap),
    mntnsmap: mntnsmap === undefined ? undefined : parseMapPath('--mntnsmap', mntnsmap),
    cgroups: repeated(o.cgroup).map(parseCgroupDir),
    netns: repeated(o.netns).map(parseNetns),
    container: Boolean(o.container),
    attach: attach === undefined ? 'auto' : parseAttach(attach),
  };
}

/** What a command line asks for: the help text, or a run with these options. */
export type Parsed<O> = { kind: 'print'; text: string } | { kind: 'run'; options: O };
