// SPDX-License-Identifier: Apache-2.0
//
// -d: DNS answers -> the name each address came from, as bcc's save_dns and
// print_dns: responses with exactly one question; every A and AAAA answer
// maps its address to the question, so a CNAME chain maps to the name that
// was asked for. The most recent answer wins. 10240 entries, 24 hours,
// least recently used first out. Addresses are compared as their bytes
// (the connect record's, and the answer's text parsed back), so no address
// text is written here.

import * as dnsPacket from 'dns-packet';
import { LRUCache } from 'lru-cache';

import { jsonText, printable } from '../text.js';

export const DNS_CACHE_SIZE = 10240;
const DNS_TTL_MS = 24 * 60 * 60 * 1000;
/** bcc appends the delay when the answer came more than this before the connect. */
const DNS_DELAY_MS = 100;

interface Entry {
  name: string;
  tsUs: number; // kernel time the answer was received, µs
}

/** An address's bytes as a map key: 4 bytes for IPv4, 16 for IPv6, never equal. */
const key = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
const LOCALHOST = new Set([key(Uint8Array.of(127, 0, 0, 1)), key(Uint8Array.of(...Array(15).fill(0), 1))]);

export class DnsCache {
  private readonly names = new LRUCache<string, Entry>({ max: DNS_CACHE_SIZE, ttl: DNS_TTL_MS });

  /** Answers dropped undecoded: malformed, truncated or hostile. */
  rejected = 0;

  /** Reads one answer; anything malformed, truncated or hostile is dropped. Returns how many addresses it named. */
  add(payload: Buffer, tsUs: number): number {
    let packet: dnsPacket.Packet;
    try {
      // dns-packet allocates for every record a header claims before it
      // checks any: a 12-byte packet claiming 65535 of them must not reach it.
      if (!answerShaped(payload)) throw new Error('not an answer');
      packet = dnsPacket.decode(payload);
    } catch {
      this.rejected++;
      return 0;
    }
    if (packet.type !== 'response' || packet.questions?.length !== 1) return 0;
    const name = packet.questions[0].name;
    if (typeof name !== 'string') return 0;
    let named = 0;
    for (const answer of packet.answers ?? []) {
      if ((answer.type !== 'A' && answer.type !== 'AAAA') || typeof answer.data !== 'string') continue;
      const address = answer.type === 'A' ? parseIPv4(answer.data) : parseIPv6(answer.data);
      if (address === undefined) continue;
      this.names.set(key(address), { name, tsUs });
      named++;
    }
    return named;
  }

  /**
   * What answered for a connect to `daddr` (4 or 16 bytes) at kernel time
   * `tsUs`: the name asked for and how long before the answer came, or
   * 'localhost' for a loopback address nothing answered for.
   */
  resolve(daddr: Uint8Array, tsUs: number): { name: string; ageMs: number } | 'localhost' | undefined {
    const k = key(daddr);
    const hit = this.names.get(k);
    if (!hit) return LOCALHOST.has(k) ? 'localhost' : undefined;
    return { name: hit.name, ageMs: (tsUs - hit.tsUs) / 1000 };
  }

  /**
   * The QUERY column, as bcc prints it. A name is text from the network:
   * its control characters (C0, DEL, C1) come out as \xNN, so that no
   * answer can move the cursor, colour the terminal or start a row of its own.
   */
  query(daddr: Uint8Array, tsUs: number): string {
    const hit = this.resolve(daddr, tsUs);
    if (hit === undefined) return 'No DNS Query';
    if (hit === 'localhost') return hit;
    const name = printable(hit.name);
    return hit.ageMs > DNS_DELAY_MS ? `${name} (${hit.ageMs.toFixed(3)}ms)` : name;
  }

  /** -j's keys for the same: the name (or null) and its age in ms (or null), as a JSON fragment after a comma. */
  queryJson(daddr: Uint8Array, tsUs: number): string {
    const hit = this.resolve(daddr, tsUs);
    const name = hit === undefined ? null : hit === 'localhost' ? hit : hit.name;
    const age = typeof hit === 'object' ? Number(hit.ageMs.toFixed(3)) : null;
    return `,"query":${jsonText(name)},"query_age_ms":${age}`;
  }

  get size(): number {
    return this.names.size;
  }
}

/**
 * Whether a payload can be a DNS answer at all: a response to one question,
 * whose records could fit its length (a question takes at least 5 bytes, a
 * record 11). The kernel side applies the same rule (bpf/tcpconnect.bpf.c,
 * dns_answer_shaped); answers read on any path are checked here too.
 */
function answerShaped(p: Buffer): boolean {
  if (p.length < 12 || !(p[2] & 0x80) || p.readUInt16BE(4) !== 1) return false;
  return 12 + 5 + (p.readUInt16BE(6) + p.readUInt16BE(8) + p.readUInt16BE(10)) * 11 <= p.length;
}

/** Dotted-quad text -> its 4 bytes; undefined if it is not one. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const m = text.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  const bytes = m?.slice(1).map(Number);
  return bytes?.every((b) => b <= 255) ? Uint8Array.from(bytes) : undefined;
}

/** IPv6 text in any form (dns-packet's AAAA text, say) -> its 16 bytes; undefined if it is not one. */
export function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string) => (part === '' ? [] : part.split(':'));
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  if (halves.length === 2 && head.length + tail.length > 7) return undefined;
  // A trailing dotted quad is two words.
  const last = halves.length === 2 ? tail : head;
  const dotted = last.length ? parseIPv4(last[last.length - 1]) : undefined;
  if (dotted)
    last.splice(-1, 1, ((dotted[0] << 8) | dotted[1]).toString(16), ((dotted[2] << 8) | dotted[3]).toString(16));
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
