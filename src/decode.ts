// SPDX-License-Identifier: Apache-2.0
//
// Batches from the native layer -> records. A batch is a run of records,
// each a little-endian u32 length and that many bytes. Records start with a
// u64 timestamp and a u32 kind: struct event (a connect) or struct
// dns_event (-d) of bpf/tcpconnect.h. A test checks these offsets against
// the ones the addon reports from the C definitions.

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
  tsNs: bigint;
  payload: Buffer;
}

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

export type DecodedRecord = { kind: 'connect'; event: ConnectEvent } | { kind: 'dns'; answer: DnsAnswer };

function decodeDns(rec: Buffer): DnsAnswer | undefined {
  const o = DNS_EVENT_LAYOUT.offsets;
  const len = rec.readUInt32LE(o.len);
  if (len > DNS_EVENT_LAYOUT.size - o.payload || o.payload + len > rec.length) return undefined;
  return { tsNs: rec.readBigUInt64LE(o.ts_ns), payload: rec.subarray(o.payload, o.payload + len) };
}

/** Decodes a batch in time order (rings are per CPU, so a batch is not). */
export function decodeBatch(batch: Buffer): { records: DecodedRecord[]; malformed: number } {
  const split = splitBatch(batch, DNS_EVENT_LAYOUT.offsets.payload);
  let malformed = split.malformed;
  const records: Array<DecodedRecord & { ts: bigint }> = [];
  for (const rec of split.records) {
    const kind = rec.readUInt32LE(EVENT_LAYOUT.offsets.kind);
    if (kind === RECORD_CONNECT && rec.length >= EVENT_LAYOUT.size) {
      const event = decodeEvent(rec);
      records.push({ kind: 'connect', event, ts: event.tsNs });
      continue;
    }
    const answer = kind === RECORD_DNS ? decodeDns(rec) : undefined;
    if (answer) records.push({ kind: 'dns', answer, ts: answer.tsNs });
    else malformed++;
  }
  records.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  return { records: records.map(({ ts: _ts, ...r }) => r as DecodedRecord), malformed };
}
