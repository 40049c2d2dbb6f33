// SPDX-License-Identifier: Apache-2.0
//
// The real process behind a tool's Io: stdout/stderr, signals, the addon.

import fs from 'node:fs';

import { loadNative } from './native.js';
import type { Io } from './tcpconnect.js';

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
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    stdoutBroken = true;
    if (err.code !== 'EPIPE') process.stderr.write(`${tool}: cannot write output: ${err.message}\n`);
    requestStop();
  });

  return {
    out(text) {
      if (!stdoutBroken) process.stdout.write(text, 'latin1');
    },
    err(line) {
      process.stderr.write(`${line}\n`);
    },
    native: loadNative,
    geteuid: () => process.geteuid?.() ?? -1,
    btfAvailable: () => fs.existsSync('/sys/kernel/btf/vmlinux'),
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
