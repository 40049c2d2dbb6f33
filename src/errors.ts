// SPDX-License-Identifier: Apache-2.0
//
// The two ways a run ends early, and their exit codes: a usage error (2, as
// argparse) and anything else that prevents tracing (1).

export class UsageError extends Error {
  readonly exitCode = 2;
}

export class FatalError extends Error {
  readonly exitCode = 1;
}

// What the native layer attaches to the errors it throws.
interface BpfErrorData {
  errno?: number;
  log?: string;
}

export function bpfErrorData(err: unknown): BpfErrorData & { message: string } {
  const e = (err ?? {}) as BpfErrorData & { message?: string };
  return { errno: e.errno, log: e.log, message: String(e.message ?? err) };
}
