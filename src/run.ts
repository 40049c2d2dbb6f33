// SPDX-License-Identifier: Apache-2.0
//
// The run loop every tool shares: argv in, exit code out. Parse, trace
// until a signal or a closed pipe stops the run, then close; errors become
// exit codes (2 for usage, as argparse; 1 for what prevents tracing). The
// process the run talks to is an Io, so that a whole run can be tested
// with a fake addon; processIo() is the real one and main() the whole of
// an executable.

import fs from 'node:fs';
import { cgroup2Root } from './cgroups.js';
import type { Parsed } from './cli/args.js';
import { FatalError, UsageError } from './errors.js';
import type { Transport } from './events.js';
import { loadNative, type NativeBinding, type NativeTracer } from './native.js';

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
  /** the file descriptors this process has open, and its limit (ulimit -n) */
  openFiles(): { open: number; limit: number };
  /** whether the kernel offers kprobes at all (a kprobe PMU or kprobe_events) */
  kprobesAvailable(): boolean;
  /** the root of the cgroup v2 hierarchy, where sock_ops programs attach; null if none is mounted */
  cgroup2Root(): string | null;
  /** a test switch: the newest transport to use (TCPCONNECT_TRANSPORT) */
  transportCap(): Transport | undefined;
  /** resolves when the run should end: a signal, or the reader of stdout went away */
  stopped(): Promise<void>;
}

export interface Tool<O> {
  prog: string;
  usage: string;
  parse(argv: string[]): Parsed<O>;
  trace(options: O, io: Io): Promise<number>;
}

/** argv in, exit code out: 0, 2 for usage errors (as argparse), 1 for what prevents tracing. */
export async function runTool<O>(tool: Tool<O>, argv: string[], io: Io): Promise<number> {
  const usageFailure = (err: UsageError): number => {
    io.err(tool.usage);
    io.err(`${tool.prog}: error: ${err.message}`);
    return err.exitCode;
  };
  let parsed: Parsed<O>;
  try {
    parsed = tool.parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageFailure(err);
  }
  if (parsed.kind === 'print') {
    io.out(parsed.text);
    return 0;
  }
  try {
    return await tool.trace(parsed.options, io);
  } catch (err) {
    // A usage error only the loaded addon can see (more --cgroup paths than the kernel side holds).
    if (err instanceof UsageError) return usageFailure(err);
    if (!(err instanceof FatalError)) throw err;
    io.err(err.message);
    return err.exitCode;
  }
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
    // Every record made before the stop gets its row: the programs are
    // detached, and what the rings still hold is read, before the end.
    tracer.drain();
    finish?.(tracer);
  } finally {
    tracer.close();
  }
  return 0;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const TRANSPORTS: readonly Transport[] = ['per-cpu-rings', 'shared-ring', 'perf-buffer'];
/** Output stdout may hold unwritten (its reader is not keeping up) before rows are dropped, and counted. */
const STDOUT_BACKLOG_BYTES = 8 << 20;
/** How long a stop waits for a stdout that takes nothing more, before it exits anyway. */
const STOP_DRAIN_MS = 800;

/** The real process behind a tool's Io: stdout/stderr, signals, the addon. */
function processIo(tool: string): Io & { exit(code: number): void } {
  let stop: (() => void) | undefined;
  let stopRequested = false;
  const requestStop = () => {
    stopRequested = true;
    stop?.();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, requestStop);
  // Node opens its inspector on SIGUSR1, which in a root process lets any
  // local user who can signal it run code as root: handled, and ignored.
  process.on('SIGUSR1', () => {});

  // `tcpconnect | head`: the reader went away; end quietly, exit 0. Any
  // other write error (a full disk) ends the run with exit 1.
  let stdoutBroken = false;
  let writeFailed = false;
  let droppedRows = 0;
  const broken = (err: NodeJS.ErrnoException) => {
    if (stdoutBroken) return;
    stdoutBroken = true;
    if (err.code !== 'EPIPE') {
      writeFailed = true;
      process.stderr.write(`${tool}: cannot write output: ${err.message}\n`);
    }
    requestStop();
  };
  process.stdout.on('error', broken);

  return {
    out(text) {
      if (stdoutBroken) return;
      if (typeof text === 'string') {
        process.stdout.write(text, 'latin1');
        return;
      }
      // A reader that does not keep up: what it has not taken stays in
      // memory, so past a limit rows are dropped, counted and said at exit.
      if (process.stdout.writableLength > STDOUT_BACKLOG_BYTES) {
        for (const byte of text) if (byte === 0x0a) droppedRows++;
        return;
      }
      // Rows are lent by the addon: write them now, straight to fd 1,
      // unless the stream still holds earlier output (order first). What
      // the fd does not take at once (a full pipe) goes to the stream,
      // which keeps a copy until the reader catches up.
      let rest = text;
      if (process.stdout.writableLength === 0) {
        try {
          rest = text.subarray(fs.writeSync(1, text));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return broken(err as NodeJS.ErrnoException);
        }
      }
      if (rest.length) process.stdout.write(Buffer.from(rest));
    },
    err(line) {
      process.stderr.write(`${line}\n`);
    },
    native: () => loadNative(tool),
    geteuid: () => process.geteuid?.() ?? -1,
    btfAvailable: () => fs.existsSync('/sys/kernel/btf/vmlinux'),
    openFiles: () => {
      const limits = fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max open files +(\d+|unlimited)/m);
      const limit = limits && limits[1] !== 'unlimited' ? Number(limits[1]) : Number.POSITIVE_INFINITY;
      return { open: fs.readdirSync('/proc/self/fd').length - 1, limit }; // less the one readdir held
    },
    // libbpf attaches through the kprobe PMU, or else tracefs's kprobe_events.
    kprobesAvailable: () =>
      [
        '/sys/bus/event_source/devices/kprobe',
        '/sys/kernel/tracing/kprobe_events',
        '/sys/kernel/debug/tracing/kprobe_events',
      ].some((p) => fs.existsSync(p)),
    cgroup2Root,
    transportCap: () => TRANSPORTS.find((t) => t === process.env.TCPCONNECT_TRANSPORT),
    stopped() {
      return new Promise<void>((resolve) => {
        stop = resolve;
        if (stopRequested) resolve();
      });
    },
    exit(code) {
      for (const sig of STOP_SIGNALS) process.off(sig, requestStop);
      if (droppedRows) process.stderr.write(`${tool}: ${droppedRows} rows dropped: stdout was not read fast enough\n`);
      const status = writeFailed ? 1 : code;
      // Let what is queued for stdout go first, for as long as the reader
      // takes it; a reader that has stalled (nothing taken for
      // STOP_DRAIN_MS) is not waited for.
      if (stdoutBroken || process.stdout.writableLength === 0) process.exit(status);
      let left = process.stdout.writableLength;
      let idleMs = 0;
      setInterval(() => {
        const now = process.stdout.writableLength;
        idleMs = now < left ? 0 : idleMs + 50;
        left = now;
        if (idleMs < STOP_DRAIN_MS) return;
        process.stderr.write(`${tool}: ${left} bytes of output not written: stdout was not read\n`);
        process.exit(status);
      }, 50);
      process.stdout.write('', () => process.exit(status));
    },
  };
}

/**
 * The whole of an executable: run the tool on this process and exit with
 * its code. An unexpected error is a bug, not a user error: one line, no
 * stack trace, and nothing left loaded (the tracer's close() ran in a
 * finally, and the kernel drops the rest with the process).
 */
export function main<O>(tool: Tool<O>): void {
  const io = processIo(tool.prog);
  runTool(tool, process.argv.slice(2), io).then(
    (code) => io.exit(code),
    (err: unknown) => {
      io.err(`${tool.prog}: internal error: ${err instanceof Error ? err.message : String(err)}`);
      io.exit(1);
    },
  );
}
