// SPDX-License-Identifier: Apache-2.0
//
// A batch as TypeScript reads it: the records the addon's reader framed and
// put in time order (native/batch.h), walked through the layout the
// addon reports from bpf/records.h. Rows are printed by the addon; only -d
// reads records here (its DNS answers, and the connects they name).

import type { NativeRecords } from './native.js';

/** Calls `each` with every record of a batch: its kind, and its offset and size in the batch. */
export function forEachRecord(
  batch: Buffer,
  records: NativeRecords,
  each: (kind: number, off: number, size: number) => void,
): void {
  const kindAt = records.event.offsets.kind;
  for (let off = 0; off + records.frameBytes <= batch.length; ) {
    const size = batch.readUInt32LE(off);
    off += records.frameBytes;
    if (size > batch.length - off) return;
    each(batch.readUInt32LE(off + kindAt), off, size);
    off += size;
  }
}

/**
 * A record's u64 nanosecond stamp at `off` as whole microseconds, exactly
 * (a double holds the ns only up to 2^53, 104 days of uptime): 2^32 ns is
 * 4294967 µs + 296 ns.
 */
export function microseconds(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  return hi * 4294967 + Math.floor((hi * 296 + lo) / 1000);
}
