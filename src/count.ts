// SPDX-License-Identifier: Apache-2.0
//
// -c: the kernel's per-flow counts (maps ipv4_count and ipv6_count, keyed by
// struct ipv4_flow_key / ipv6_flow_key of bpf/tcpconnect.h) -> sorted rows.

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

/**
 * Highest count first, as bcc sorts. bcc leaves ties in hash order; here
 * they are in key order (addresses, then port), so a table is reproducible.
 */
export function decodeCounts(entries: Array<[Buffer, Buffer]>, ip: 4 | 6): FlowCount[] {
  const layout = ip === 4 ? FLOW_KEY_LAYOUT.ipv4 : FLOW_KEY_LAYOUT.ipv6;
  const addrLen = ip === 4 ? 4 : 16;
  const { saddr, daddr, dport } = layout.offsets;
  return entries
    .filter(([key, value]) => key.length === layout.size && value.length === 8)
    .map(([key, value]) => ({ key, count: value.readBigUInt64LE(0) }))
    .sort((a, b) => (a.count !== b.count ? (a.count > b.count ? -1 : 1) : Buffer.compare(a.key, b.key)))
    .map(({ key, count }) => ({
      saddr: formatAddress(ip, key.subarray(saddr, saddr + addrLen)),
      daddr: formatAddress(ip, key.subarray(daddr, daddr + addrLen)),
      dport: key.readUInt16LE(dport),
      count,
    }));
}
