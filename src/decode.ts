// SPDX-License-Identifier: Apache-2.0
//
// Batches from the native layer -> records, for tcpconnect -d, which reads
// DNS answers between the connects (every other mode hands its batches to
// the addon's RowWriter, which follows the same rules). A batch is a run of
// records, each a little-endian u32 length and that many bytes. Records
// start with a u64 timestamp and a u32 kind: struct event (a connect) or
// struct dns_event (-d) of bpf/tcpconnect.h. A test checks these offsets
// against the ones the addon reports from the C definitions.

import { formatAddress } from './inet.js';

export const EVENT_LAYOUT = {
  size: 80,
  offsets: { ts_ns: 0, kind: 8, pid: 12, uid: 16, lport: 20, dport: 22, saddr: 24, daddr: 40, ip: 56, task: 64 },
} as const;

export const DNS_EVENT_LAYOUT = {
  size: 16 + 512, // the payload is sent up only as long as it is
  offsets: { ts_ns: 0, kind: 8, len: 12, payload: 16 },
} as const;

const RECORD_CONNECT = 1;
const RECORD_DNS = 2;
const TASK_COMM_LEN = 16;

export interface DnsAnswer {
  tsUs: number; // kernel time, µs (as bcc's ts_us)
  payload: Buffer;
}

export interface ConnectEvent {
  tsUs: number; // kernel time, µs (as bcc's ts_us)
  pid: number;
  uid: number;
  ip: number; // 4 or 6
  saddr: string;
  daddr: string;
  lport: number;
  dport: number;
  task: string; // latin1: one char per byte, as bcc prints bytes
}

/** seq: the connect record's place among its batch's connect records, in batch order (as the RowWriter takes -d's suffixes). */
export type DecodedRecord =
  | { kind: 'connect'; event: ConnectEvent; seq: number }
  | { kind: 'dns'; answer: DnsAnswer };

/**
 * A u64 nanosecond count at `off` as whole microseconds, exactly (a double
 * holds the ns only up to 2^53, 104 days of uptime): 2^32 ns is
 * 4294967 µs + 296 ns.
 */
function microseconds(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  return hi * 4294967 + Math.floor((hi * 296 + lo) / 1000);
}

function taskText(buf: Buffer, start: number): string {
  let end = start;
  while (end < start + TASK_COMM_LEN && buf[end] !== 0) end++;
  return buf.toString('latin1', start, end);
}

/** struct event at `off` of `buf`. (Rows are printed from the bytes by the addon; this is for -d.) */
export function decodeEvent(buf: Buffer, off = 0): ConnectEvent {
  const o = EVENT_LAYOUT.offsets;
  const ip = buf[off + o.ip];
  return {
    tsUs: microseconds(buf, off + o.ts_ns),
    pid: buf.readUInt32LE(off + o.pid),
    uid: buf.readUInt32LE(off + o.uid),
    ip,
    saddr: formatAddress(ip, buf, off + o.saddr),
    daddr: formatAddress(ip, buf, off + o.daddr),
    lport: buf.readUInt16LE(off + o.lport),
    dport: buf.readUInt16LE(off + o.dport),
    task: taskText(buf, off + o.task),
  };
}

function decodeDns(buf: Buffer, off: number, len: number): DnsAnswer | undefined {
  const o = DNS_EVENT_LAYOUT.offsets;
  const size = buf.readUInt32LE(off + o.len);
  if (size > DNS_EVENT_LAYOUT.size - o.payload || o.payload + size > len) return undefined;
  return { tsUs: microseconds(buf, off + o.ts_ns), payload: buf.subarray(off + o.payload, off + o.payload + size) };
}

const tsOf = (r: DecodedRecord) => (r.kind === 'connect' ? r.event.tsUs : r.answer.tsUs);

/**
 * Splits a batch into records, in time order: a ring buffer's already are;
 * a perf buffer's come ring by ring, one per CPU, and are sorted. A record
 * too short for its kind, or of no known kind, is skipped and counted.
 */
export function decodeBatch(batch: Buffer): { records: DecodedRecord[]; malformed: number } {
  const records: DecodedRecord[] = [];
  let malformed = 0;
  let connects = 0;
  let ordered = true;
  let last = -Infinity;
  let off = 0;
  while (off + 4 <= batch.length) {
    const len = batch.readUInt32LE(off);
    off += 4;
    if (off + len > batch.length) {
      malformed++;
      off = batch.length;
      break;
    }
    const kind = len >= DNS_EVENT_LAYOUT.offsets.payload ? batch.readUInt32LE(off + EVENT_LAYOUT.offsets.kind) : 0;
    let rec: DecodedRecord | undefined;
    if (kind === RECORD_CONNECT && len >= EVENT_LAYOUT.size) {
      rec = { kind: 'connect', event: decodeEvent(batch, off), seq: connects++ };
    } else if (kind === RECORD_DNS) {
      const answer = decodeDns(batch, off, len);
      if (answer) rec = { kind: 'dns', answer };
    }
    off += len;
    if (!rec) {
      malformed++;
      continue;
    }
    const ts = tsOf(rec);
    if (ts < last) ordered = false;
    last = ts;
    records.push(rec);
  }
  if (off < batch.length) malformed++;
  // Stable: records of the same microsecond keep the kernel's order.
  if (!ordered) records.sort((a, b) => tsOf(a) - tsOf(b));
  return { records, malformed };
}
