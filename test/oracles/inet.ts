// SPDX-License-Identifier: Apache-2.0
//
// Address text exactly as glibc's inet_ntop prints it (bcc formats with
// Python's socket.inet_ntop, which is glibc's): RFC 5952 compression of the
// first longest run of two or more zero words, lower-case hex, and the
// dotted forms ::ffff:a.b.c.d and ::a.b.c.d. Not the WHATWG URL text.
// Test oracle: the addon prints addresses with glibc's own inet_ntop; this
// independent writer, checked against a golden table made with Python's
// socket.inet_ntop (test/fixtures/inet6-golden.json), makes the text the
// tests expect of random addresses.

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
