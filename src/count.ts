// SPDX-License-Identifier: Apache-2.0
//
// -c: the kernel's per-flow counts (maps ipv4_count and ipv6_count, keyed by
// struct ipv4_flow_key / ipv6_flow_key of bpf/records.h, a u64 per CPU)
// -> sorted rows, with the addresses as the rows print them.

import type { NativeBinding } from './native.js';

export interface FlowCount {
  saddr: string;
  daddr: string;
  dport: number;
  count: bigint;
}

/** The maps count per CPU (u64 each, bpf/tcpconnect.bpf.c): the flow's count is their sum. */
function perCpuSum(value: Buffer): bigint {
  let sum = 0n;
  for (let off = 0; off < value.length; off += 8) sum += value.readBigUInt64LE(off);
  return sum;
}

/**
 * Highest count first, as bcc sorts. bcc leaves ties in hash order; here
 * they are in key order (addresses, then port), so a table is reproducible.
 */
export function decodeCounts(
  native: Pick<NativeBinding, 'records' | 'addressText'>,
  entries: Array<[Buffer, Buffer]>,
  ip: 4 | 6,
): FlowCount[] {
  const layout = ip === 4 ? native.records.ipv4FlowKey : native.records.ipv6FlowKey;
  const addrLen = ip === 4 ? 4 : 16;
  const { saddr, daddr, dport } = layout.offsets;
  return entries
    .filter(([key, value]) => key.length === layout.size && value.length > 0 && value.length % 8 === 0)
    .map(([key, value]) => ({ key, count: perCpuSum(value) }))
    .sort((a, b) => (a.count !== b.count ? (a.count > b.count ? -1 : 1) : Buffer.compare(a.key, b.key)))
    .map(({ key, count }) => ({
      saddr: native.addressText(key.subarray(saddr, saddr + addrLen)),
      daddr: native.addressText(key.subarray(daddr, daddr + addrLen)),
      dport: key.readUInt16LE(dport),
      count,
    }));
}
