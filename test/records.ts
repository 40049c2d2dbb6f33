// SPDX-License-Identifier: Apache-2.0
//
// Records of bpf/records.h made in tests, laid out as the addon reports the
// C layout: a connect record (struct event) and a DNS answer (struct
// dns_event), as a ring gives them (record()) or framed in a batch (u32
// length, then the record; framed()).
import { parseIPv4, parseIPv6 } from '../src/dns/cache.js';
import { loadNative } from '../src/native.js';

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
  cgroupId?: bigint;
  mntns?: number;
  netns?: number;
  err?: number; // -R's outcome: 0, an errno, or RESULT_PENDING
  latUs?: number;
}

/** An address's bytes, from its text. */
export function addressBytes(text: string): Uint8Array {
  const bytes = text.includes(':') ? parseIPv6(text) : parseIPv4(text);
  if (!bytes) throw new Error(`not an address: ${text}`);
  return bytes;
}

/** One struct event, as a ring gives it. */
export function record(f: EventFields): Buffer {
  const { event, recordConnect, taskCommLen } = loadNative().records;
  const o = event.offsets;
  const ip = f.ip ?? 4;
  const r = Buffer.alloc(event.size);
  r.writeBigUInt64LE(f.tsNs ?? BigInt(f.tsUs ?? 0) * 1000n, o.ts_ns);
  r.writeUInt32LE(recordConnect, o.kind);
  r.writeUInt32LE(f.pid ?? 0, o.pid);
  r.writeUInt32LE(f.uid ?? 0, o.uid);
  r.writeUInt16LE(f.lport ?? 0, o.lport);
  r.writeUInt16LE(f.dport ?? 0, o.dport);
  r.set(addressBytes(f.saddr ?? (ip === 4 ? '127.0.0.1' : '::1')), o.saddr);
  r.set(addressBytes(f.daddr ?? (ip === 4 ? '127.0.0.1' : '::1')), o.daddr);
  r[o.ip] = ip;
  r.write(f.task ?? '', o.task, taskCommLen, 'latin1');
  r.writeBigUInt64LE(f.cgroupId ?? 0n, o.cgroup_id);
  r.writeUInt32LE(f.mntns ?? 0, o.mntns);
  r.writeUInt32LE(f.netns ?? 0, o.netns);
  r.writeInt32LE(f.err ?? 0, o.err);
  r.writeUInt32LE(f.latUs ?? 0, o.lat_us);
  return r;
}

/** One struct dns_event carrying `payload`, as a ring gives it (only as long as its payload). */
export function dnsRecord(payload: Buffer, tsUs = 0): Buffer {
  const { dnsEvent, recordDns } = loadNative().records;
  const o = dnsEvent.offsets;
  const r = Buffer.alloc(o.payload + payload.length);
  r.writeBigUInt64LE(BigInt(tsUs) * 1000n, o.ts_ns);
  r.writeUInt32LE(recordDns, o.kind);
  r.writeUInt32LE(payload.length, o.len);
  payload.copy(r, o.payload);
  return r;
}

/** Records framed into a batch, in the order given. */
export function framed(...records: Buffer[]): Buffer {
  return Buffer.concat(
    records.flatMap((r) => {
      const len = Buffer.alloc(loadNative().records.frameBytes);
      len.writeUInt32LE(r.length);
      return [len, r];
    }),
  );
}

/** One connect record, framed: a batch of one. */
export const eventRecord = (f: EventFields): Buffer => framed(record(f));
