// SPDX-License-Identifier: Apache-2.0
//
// -d: DNS answers -> the name each address came from, as bcc's save_dns and
// print_dns: responses with exactly one question; every A and AAAA answer
// maps its address text (as the rows print it) to the question, so a CNAME
// chain maps to the name that was asked for. The most recent answer wins.
// 10240 entries, 24 hours, least recently used first out.

import * as dnsPacket from 'dns-packet';
import { LRUCache } from 'lru-cache';

import { formatIPv6 } from './inet.js';

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
  const bytes = ipv6Bytes(text);
  return bytes && formatIPv6(bytes);
}

function ipv6Bytes(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string) => (part === '' ? [] : part.split(':'));
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  // A trailing dotted quad is two words.
  const last = halves.length === 2 ? tail : head;
  const dotted = last.length ? last[last.length - 1].match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/) : null;
  if (dotted) {
    const b = dotted.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    last.splice(-1, 1, ((b[0] << 8) | b[1]).toString(16), ((b[2] << 8) | b[3]).toString(16));
  }
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8) return undefined;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return undefined;
    const w = parseInt(groups[i], 16);
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}
