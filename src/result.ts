// SPDX-License-Identifier: Apache-2.0
//
// -R and -x: each connect's outcome. The kernel side sends a row when the
// outcome is known (bpf/tcpconnect.bpf.c, tcpc_outcome); a connect still
// waiting when tracing stops is in the `pending` map, and is printed from
// here with RESULT PENDING, so that no connect made before a stop goes
// without its row.

import type { NativeRecords } from './native.js';

/**
 * The rows still waiting in `pending` (its values, struct event), as a
 * batch for the RowWriter: err set to PENDING, the latency so far, and the
 * stop's time as the row's. nowNs: CLOCK_MONOTONIC, as bpf_ktime_get_ns().
 */
export function pendingBatch(values: Buffer[], records: NativeRecords, nowNs: bigint): Buffer {
  const { size, offsets } = records.event;
  const frames = values
    .filter((v) => v.length >= size)
    .map((v) => {
      const frame = Buffer.alloc(records.frameBytes + size);
      frame.writeUInt32LE(size, 0);
      const ev = frame.subarray(records.frameBytes);
      v.copy(ev, 0, 0, size);
      const since = ev.readBigUInt64LE(offsets.ts_ns);
      const waitedUs = since > 0n && nowNs > since ? (nowNs - since) / 1000n : 0n;
      ev.writeInt32LE(records.resultPending, offsets.err);
      ev.writeUInt32LE(Number(waitedUs > 0xffffffffn ? 0xffffffffn : waitedUs), offsets.lat_us);
      ev.writeBigUInt64LE(nowNs, offsets.ts_ns);
      return { since, frame };
    });
  // In the order the connects were made.
  frames.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0));
  return Buffer.concat(frames.map((f) => f.frame));
}
