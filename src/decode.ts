// SPDX-License-Identifier: Apache-2.0
//
// Batches from the native layer -> event objects. A batch is a run of
// records, each a little-endian u32 length and that many bytes; the record
// layout is struct event of bpf/tcpconnect.h (a test checks these offsets
// against the ones the addon reports from the C definition).

import { formatAddress } from './inet.js';

export const EVENT_LAYOUT = {
  size: 72,
  offsets: { ts_ns: 0, saddr: 8, daddr: 24, pid: 40, uid: 44, lport: 48, dport: 50, ip: 52, task: 56 },
} as const;
const TASK_COMM_LEN = 16;

export interface ConnectEvent {
  tsNs: bigint;
  pid: number;
  uid: number;
  ip: number; // 4 or 6
  saddr: string;
  daddr: string;
  lport: number;
  dport: number;
  task: string; // latin1: one char per byte, as bcc prints bytes
}

/** Splits a batch into records; a record shorter than expected is skipped and counted. */
export function splitBatch(batch: Buffer, minSize: number): { records: Buffer[]; malformed: number } {
  const records: Buffer[] = [];
  let malformed = 0;
  let off = 0;
  while (off + 4 <= batch.length) {
    const len = batch.readUInt32LE(off);
    off += 4;
    if (off + len > batch.length) {
      malformed++;
      break;
    }
    if (len < minSize) malformed++;
    else records.push(batch.subarray(off, off + len));
    off += len;
  }
  if (off < batch.length) malformed++;
  return { records, malformed };
}

export function decodeEvent(rec: Buffer): ConnectEvent {
  const o = EVENT_LAYOUT.offsets;
  const ip = rec[o.ip];
  const addrLen = ip === 4 ? 4 : 16;
  const task = rec.subarray(o.task, o.task + TASK_COMM_LEN);
  const nul = task.indexOf(0);
  return {
    tsNs: rec.readBigUInt64LE(o.ts_ns),
    pid: rec.readUInt32LE(o.pid),
    uid: rec.readUInt32LE(o.uid),
    ip,
    saddr: formatAddress(ip, rec.subarray(o.saddr, o.saddr + addrLen)),
    daddr: formatAddress(ip, rec.subarray(o.daddr, o.daddr + addrLen)),
    lport: rec.readUInt16LE(o.lport),
    dport: rec.readUInt16LE(o.dport),
    task: task.subarray(0, nul === -1 ? TASK_COMM_LEN : nul).toString('latin1'),
  };
}

/** Decodes a batch in time order (rings are per CPU, so a batch is not). */
export function decodeBatch(batch: Buffer): { events: ConnectEvent[]; malformed: number } {
  const { records, malformed } = splitBatch(batch, EVENT_LAYOUT.size);
  const events = records.map(decodeEvent);
  events.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
  return { events, malformed };
}
