// SPDX-License-Identifier: Apache-2.0
//
// The real process behind a tool's Io: stdout/stderr, signals, the addon.

import fs from 'node:fs';

import { loadNative } from './native.js';
import type { Io } from './tool.js';

export interface ProcessIo extends Io {
  exit(code: number): void;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function processIo(tool: string): ProcessIo {
  let stop: (() => void) | undefined;
  let stopRequested = false;
  const requestStop = () => {
    stopRequested = true;
    stop?.();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, requestStop);

  // `tcpconnect | head`: the reader went away; end quietly, exit 0.
  let stdoutBroken = false;
  const broken = (err: NodeJS.ErrnoException) => {
    if (stdoutBroken) return;
    stdoutBroken = true;
    if (err.code !== 'EPIPE') process.stderr.write(`${tool}: cannot write output: ${err.message}\n`);
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
    native: loadNative,
    geteuid: () => process.geteuid?.() ?? -1,
    btfAvailable: () => fs.existsSync('/sys/kernel/btf/vmlinux'),
    // libbpf attaches through the kprobe PMU, or else tracefs's kprobe_events.
    kprobesAvailable: () =>
      ['/sys/bus/event_source/devices/kprobe', '/sys/kernel/tracing/kprobe_events', '/sys/kernel/debug/tracing/kprobe_events'].some(
        (p) => fs.existsSync(p),
      ),
    stopped() {
      return new Promise<void>((resolve) => {
        stop = resolve;
        if (stopRequested) resolve();
      });
    },
    exit(code) {
      for (const sig of STOP_SIGNALS) process.off(sig, requestStop);
      // Let what is queued for stdout go first (unless nobody reads it).
      if (stdoutBroken) process.exit(code);
      process.stdout.write('', () => process.exit(code));
    },
  };
}

/**
 * The whole of an executable: run the tool on this process and exit with
 * its code. An unexpected error is a bug, not a user error: one line, no
 * stack trace, and nothing left loaded (the tracer's close() ran in a
 * finally, and the kernel drops the rest with the process).
 */
export function main(tool: string, run: (argv: string[], io: Io) => Promise<number>): void {
  const io = processIo(tool);
  run(process.argv.slice(2), io).then(
    (code) => io.exit(code),
    (err: unknown) => {
      io.err(`${tool}: internal error: ${err instanceof Error ? err.message : String(err)}`);
      io.exit(1);
    },
  );
}
