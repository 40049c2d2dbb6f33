// SPDX-License-Identifier: Apache-2.0
//
// struct event records (bpf/tcpconnect.h) as the addon reads them from the
// ring buffer: a u32 length, then the record. For tests that print rows.
import { EVENT_LAYOUT } from '../src/decode.js';
import { parseIPv6 } from '../src/inet.js';

const TASK_COMM_LEN = 16;

export interface EventFields {
  tsUs?: number;
  tsNs?: bigint; // instead of tsUs
  pid?: number;
  uid?: number;
  ip?: 4 | 6;
  saddr?: string;
  daddr?: string;
  lport?: number;
  dport?: number;
  task?: string; // latin1
}

function addressBytes(ip: 4 | 6, text: string): Uint8Array {
  const bytes = ip === 4 ? Uint8Array.from(text.split('.').map(Number)) : parseIPv6(text);
  if (!bytes || bytes.length !== (ip === 4 ? 4 : 16)) throw new Error(`not an IPv${ip} address: ${text}`);
  return bytes;
}

/** One connect record, after its u32 length. */
export function eventRecord(f: EventFields): Buffer {
  const o = EVENT_LAYOUT.offsets;
  const ip = f.ip ?? 4;
  const rec = Buffer.alloc(4 + EVENT_LAYOUT.size);
  const r = rec.subarray(4);
  rec.writeUInt32LE(EVENT_LAYOUT.size);
  r.writeBigUInt64LE(f.tsNs ?? BigInt(f.tsUs ?? 0) * 1000n, o.ts_ns);
  r.writeUInt32LE(1, o.kind); // RECORD_CONNECT
  r.writeUInt32LE(f.pid ?? 0, o.pid);
  r.writeUInt32LE(f.uid ?? 0, o.uid);
  r.writeUInt16LE(f.lport ?? 0, o.lport);
  r.writeUInt16LE(f.dport ?? 0, o.dport);
  r.set(addressBytes(ip, f.saddr ?? (ip === 4 ? '127.0.0.1' : '::1')), o.saddr);
  r.set(addressBytes(ip, f.daddr ?? (ip === 4 ? '127.0.0.1' : '::1')), o.daddr);
  r[o.ip] = ip;
  r.write(f.task ?? '', o.task, TASK_COMM_LEN, 'latin1');
  return rec;
}
