// SPDX-License-Identifier: Apache-2.0
//
// What every tool's run shares: the Io it is given (so a whole run can be
// tested with a fake addon), the mapping of errors to exit codes, the checks
// before loading anything, and rodata encoding of the shared filters.

import { FatalError, UsageError } from './errors.js';
import type { NativeBinding, NativeRowWriter, NativeTracer } from './native.js';

export interface Io {
  /**
   * rows and the header: latin1 text or its bytes, written as it comes.
   * Bytes are lent (the addon reuses the memory for the next batch): out()
   * must be done with them, or copy them, before it returns.
   */
  out(text: string | Uint8Array): void;
  /** notices, warnings, errors: one line each */
  err(line: string): void;
  native(): NativeBinding;
  geteuid(): number;
  btfAvailable(): boolean;
  /** whether the kernel offers kprobes at all (a kprobe PMU or kprobe_events) */
  kprobesAvailable(): boolean;
  /** resolves when the run should end: a signal, or the reader of stdout went away */
  stopped(): Promise<void>;
}

export type Parsed<O> = { kind: 'help'; text: string } | { kind: 'run'; options: O };

export interface Tool<O> {
  prog: string;
  usage: string;
  parse(argv: string[]): Parsed<O>;
  trace(options: O, io: Io): Promise<number>;
}

/** argv in, exit code out: 0, 2 for usage errors (as argparse), 1 for what prevents tracing. */
export async function runTool<O>(tool: Tool<O>, argv: string[], io: Io): Promise<number> {
  let parsed: Parsed<O>;
  try {
    parsed = tool.parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(tool.usage);
    io.err(`${tool.prog}: error: ${err.message}`);
    return err.exitCode;
  }
  if (parsed.kind === 'help') {
    io.out(parsed.text);
    return 0;
  }
  try {
    return await tool.trace(parsed.options, io);
  } catch (err) {
    if (!(err instanceof FatalError)) throw err;
    io.err(err.message);
    return err.exitCode;
  }
}

/** Root and BTF, checked before the addon is even loaded. */
export function preflight(prog: string, io: Io): NativeBinding {
  if (io.geteuid() !== 0) throw new FatalError(`${prog}: must be run as root (try: sudo ${prog})`);
  if (!io.btfAvailable())
    throw new FatalError(`${prog}: this kernel has no BTF (/sys/kernel/btf/vmlinux); it needs CONFIG_DEBUG_INFO_BTF=y`);
  return io.native();
}

/**
 * A tracer's run once attached: `start` starts reading and returns the
 * header, which is printed after the notice of how it attached; then the
 * run waits to be stopped and `finish` prints what comes at the end (-c's
 * table). The tracer is closed whatever happens.
 */
export async function traceUntilStopped(
  io: Io,
  attached: { tracer: NativeTracer; notice: string },
  start: (tracer: NativeTracer) => string,
  finish?: (tracer: NativeTracer) => void,
): Promise<number> {
  const { tracer, notice } = attached;
  try {
    const header = start(tracer);
    io.err(notice);
    io.out(header);
    await io.stopped();
    finish?.(tracer);
  } finally {
    tracer.close();
  }
  return 0;
}

/** Perf buffer pages per CPU (bcc: 8), where there is no ring buffer; more absorbs bursts. */
export const PERF_PAGES = 64;

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export const flag = (on: unknown): Buffer => Buffer.from([on ? 1 : 0]);

/** The rodata of bpf/common.bpf.h's filters: -p, -P (a bit per port), -4/-6. */
export function commonRodata(
  opts: { pid?: number; ports?: number[]; family: 0 | 4 | 6 },
  portBitmapBytes: number,
): Record<string, Buffer> {
  const ports = Buffer.alloc(portBitmapBytes);
  for (const p of opts.ports ?? []) ports[p >> 3] |= 1 << (p & 7);
  return {
    filter_pid: u32(opts.pid ?? 0),
    filter_ports_on: flag(opts.ports),
    filter_ports: ports,
    filter_family: Buffer.from([opts.family]),
  };
}

/**
 * Reads the events ring buffers (or perf buffer), `eventsMap`, and prints a row for every
 * connect record, in time order: each read's rows are made by the addon's
 * RowWriter and written out in one piece. `suffixes`, if given, reads the
 * batch first and gives each connect record its suffix (tcpconnect -d).
 * Losses and malformed records are said on stderr (bcc's "Possibly lost N
 * samples").
 */
export function streamRows(
  prog: string,
  tracer: NativeTracer,
  eventsMap: string,
  io: Io,
  rows: NativeRowWriter,
  suffixes?: (batch: Buffer) => string[],
): void {
  tracer.start(eventsMap, { pagesPerCpu: PERF_PAGES, lostMap: 'events_lost' }, (batch, lost) => {
    if (lost) io.err(`Possibly lost ${lost} samples`);
    if (!batch) return;
    const { text, malformed } = rows.format(batch, Date.now(), suffixes?.(batch));
    if (malformed) io.err(`${prog}: skipped ${malformed} malformed records`);
    if (text.length) io.out(text);
  });
}
