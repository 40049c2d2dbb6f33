#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// The executable: wires the real process into run() and maps what is left
// to an exit code. Nothing else.

import { processIo } from '../process-io.js';
import { run } from '../tcpconnect.js';

const io = processIo('tcpconnect');
run(process.argv.slice(2), io).then(
  (code) => io.exit(code),
  (err: unknown) => {
    // A bug, not a user error: one line, no stack trace, nothing left loaded
    // (the tracer's close() ran in a finally, and the kernel drops the rest
    // with the process).
    io.err(`tcpconnect: internal error: ${err instanceof Error ? err.message : String(err)}`);
    io.exit(1);
  },
);
