// SPDX-License-Identifier: Apache-2.0
//
// -d: DNS answers -> the name each address came from, as bcc's save_dns and
// print_dns: responses with exactly one question; every A and AAAA answer
// maps its address text (as the rows print it) to the question, so a CNAME
// chain maps to the name that was asked for. The most recent answer wins.
// 10240 entries, 24 hours, least recently used first out.

import * as dnsPacket from 'dns-packet';
import { LRUCache } from 'lru-cache';

import { formatIPv6, parseIPv6 } from './inet.js';

export const DNS_CACHE_SIZE = 10240;
export const DNS_TTL_MS = 24 * 60 * 60 * 1000;
/** bcc appends the delay when the answer came more than this before the connect. */
export const DNS_DELAY_MS = 100;

interface Entry {
  name: string;
  tsUs: number; // kernel time the answer was received, µs
}

export class DnsCache {
  private readonly names = new LRUCache<string, Entry>({ max: DNS_CACHE_SIZE, ttl: DNS_TTL_MS });

  /** Reads one answer; anything malformed, truncated or hostile is dropped. Returns how many addresses it named. */
  add(payload: Buffer, tsUs: number): number {
    let packet: dnsPacket.Packet;
    try {
      packet = dnsPacket.decode(payload);
    } catch {
      return 0;
    }
    if (packet.type !== 'response' || packet.questions?.length !== 1) return 0;
    const name = packet.questions[0].name;
    if (typeof name !== 'string') return 0;
    let named = 0;
    for (const answer of packet.answers ?? []) {
      if ((answer.type !== 'A' && answer.type !== 'AAAA') || typeof answer.data !== 'string') continue;
      const address = answer.type === 'A' ? answer.data : canonicalIPv6(answer.data);
      if (address === undefined) continue;
      this.names.set(address, { name, tsUs });
      named++;
    }
    return named;
  }

  /** The QUERY column for a connect to `daddr` at kernel time `tsUs`. */
  query(daddr: string, tsUs: number): string {
    const hit = this.names.get(daddr);
    if (!hit) return daddr === '127.0.0.1' || daddr === '::1' ? 'localhost' : 'No DNS Query';
    const ms = (tsUs - hit.tsUs) / 1000;
    return ms > DNS_DELAY_MS ? `${hit.name} (${ms.toFixed(3)}ms)` : hit.name;
  }

  get size(): number {
    return this.names.size;
  }
}

/** dns-packet's AAAA text -> the glibc text the rows print. */
function canonicalIPv6(text: string): string | undefined {
  const bytes = parseIPv6(text);
  return bytes && formatIPv6(bytes);
}
