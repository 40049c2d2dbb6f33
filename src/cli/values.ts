// SPDX-License-Identifier: Apache-2.0
//
// Pure parsers for option values, with the exact messages users see. Every
// value is checked here, before anything reaches the native layer.

import { UsageError } from '../errors.js';

const DECIMAL = /^[0-9]+$/;

function parseDecimal(flag: string, what: string, value: string, min: number, max: number): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`argument ${flag}: invalid ${what} '${value}' (must be an integer from ${min} to ${max})`);
  return n;
}

/** -p/--pid: a process ID (the TGID), 1 to 2^31-1 (pid_t). */
export function parsePid(value: string): number {
  return parseDecimal('-p/--pid', 'PID', value, 1, 2 ** 31 - 1);
}

/** -u/--uid: 0 to 2^32-2; (uid_t)-1 is "no user" to the kernel. */
export function parseUid(value: string): number {
  return parseDecimal('-u/--uid', 'UID', value, 0, 2 ** 32 - 2);
}

/** -P/--port: a comma-separated list of destination ports, any number of them. */
export function parsePorts(value: string): number[] {
  const flag = '-P/--port';
  if (value === '') throw new UsageError(`argument ${flag}: empty port list`);
  const ports: number[] = [];
  for (const part of value.split(',')) {
    if (part === '') throw new UsageError(`argument ${flag}: empty port in list '${value}'`);
    const port = DECIMAL.test(part) ? Number(part) : NaN;
    if (!Number.isInteger(port) || port > 65535)
      throw new UsageError(`argument ${flag}: invalid port '${part}' (must be an integer from 0 to 65535)`);
    ports.push(port);
  }
  return ports;
}

/** --cgroupmap/--mntnsmap: a path; an empty one would turn the filter off, so it is refused. */
export function parseMapPath(flag: '--cgroupmap' | '--mntnsmap', value: string): string {
  if (value === '') throw new UsageError(`argument ${flag}: empty path (a filter must name its pinned map)`);
  return value;
}

const ATTACH_METHODS = ['auto', 'kprobe', 'tracepoint'] as const;
export type AttachMethod = (typeof ATTACH_METHODS)[number];

export function parseAttach(value: string): AttachMethod {
  if ((ATTACH_METHODS as readonly string[]).includes(value)) return value as AttachMethod;
  throw new UsageError(
    `argument --attach: invalid choice: '${value}' (choose from ${ATTACH_METHODS.map((m) => `'${m}'`).join(', ')})`,
  );
}
