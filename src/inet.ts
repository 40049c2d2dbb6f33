// SPDX-License-Identifier: Apache-2.0
//
// Address text exactly as glibc's inet_ntop prints it (bcc formats with
// Python's socket.inet_ntop, which is glibc's): RFC 5952 compression of the
// first longest run of two or more zero words, lower-case hex, and the
// dotted forms ::ffff:a.b.c.d and ::a.b.c.d. Not the WHATWG URL text.
// Rows print through the addon, with glibc's own inet_ntop; -c's table and
// -d's lookups print through this, and test/rows.test.ts holds the two to
// the same text.

/** The 4 bytes at `off` of `bytes`. */
export function formatIPv4(bytes: Uint8Array, off = 0): string {
  return `${bytes[off]}.${bytes[off + 1]}.${bytes[off + 2]}.${bytes[off + 3]}`;
}

/** The 16 bytes at `off` of `bytes`. */
export function formatIPv6(bytes: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = off; i < off + 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);

  // The first longest run of zero words wins; a single zero is not compressed.
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;

  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    // glibc: IPv4-compatible (::a.b.c.d, two non-zero words after six zero
    // words) and IPv4-mapped (::ffff:a.b.c.d) addresses end dotted.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIPv4(bytes, off + 12);
      return out;
    }
    out += words[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

export function formatAddress(ip: number, bytes: Uint8Array, off = 0): string {
  return ip === 4 ? formatIPv4(bytes, off) : formatIPv6(bytes, off);
}

/** IPv6 text in any form (dns-packet's AAAA text, say) -> its 16 bytes; undefined if it is not one. */
export function parseIPv6(text: string): Uint8Array | undefined {
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
