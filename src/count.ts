// SPDX-License-Identifier: Apache-2.0
//
// -c: the kernel's per-flow counts (maps ipv4_count and ipv6_count, keyed by
// struct ipv4_flow_key / ipv6_flow_key of bpf/tcpconnect.h, a u64 per CPU)
// -> sorted rows.

import { formatAddress } from './inet.js';

export const FLOW_KEY_LAYOUT = {
  ipv4: { size: 12, offsets: { saddr: 0, daddr: 4, dport: 8 } },
  ipv6: { size: 40, offsets: { saddr: 0, daddr: 16, dport: 32 } },
} as const;

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
export function decodeCounts(entries: Array<[Buffer, Buffer]>, ip: 4 | 6): FlowCount[] {
  const layout = ip === 4 ? FLOW_KEY_LAYOUT.ipv4 : FLOW_KEY_LAYOUT.ipv6;
  const addrLen = ip === 4 ? 4 : 16;
  const { saddr, daddr, dport } = layout.offsets;
  return entries
    .filter(([key, value]) => key.length === layout.size && value.length > 0 && value.length % 8 === 0)
    .map(([key, value]) => ({ key, count: perCpuSum(value) }))
    .sort((a, b) => (a.count !== b.count ? (a.count > b.count ? -1 : 1) : Buffer.compare(a.key, b.key)))
    .map(({ key, count }) => ({
      saddr: formatAddress(ip, key.subarray(saddr, saddr + addrLen)),
      daddr: formatAddress(ip, key.subarray(daddr, daddr + addrLen)),
      dport: key.readUInt16LE(dport),
      count,
    }));
}
