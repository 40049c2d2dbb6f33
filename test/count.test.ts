// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { decodeCounts as decode, type FlowCount } from '../src/count.js';
import { countTable } from '../src/format.js';
import { addonPath, loadNative } from '../src/native.js';

const built = addonPath() !== null;
if (!built && process.env.CI !== 'true') console.warn(`skipping count test: the addon is not built`);

const decodeCounts = (entries: Array<[Buffer, Buffer]>, ip: 4 | 6): FlowCount[] => decode(loadNative(), entries, ip);

// Verbatim from bcc's tcpconnect-bpfcc -c (test/fixtures/bcc-captured-output.txt).
const BCC_TABLE = [
  '',
  'LADDR                     RADDR                     RPORT                CONNECTS  ',
  '127.0.0.1                 127.0.0.1                 8080                 2         ',
  '127.0.0.1                 127.0.0.1                 9                    1         ',
  '::1                       ::1                       8080                 1         ',
  '',
].join('\n');

function v4(saddr: number[], daddr: number[], dport: number, n: number): [Buffer, Buffer] {
  const key = Buffer.alloc(loadNative().records.ipv4FlowKey.size);
  key.set(saddr, 0);
  key.set(daddr, 4);
  key.writeUInt16LE(dport, 8);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt(n));
  return [key, value];
}

function v6(saddr: string, daddr: string, dport: number, n: number): [Buffer, Buffer] {
  const key = Buffer.alloc(loadNative().records.ipv6FlowKey.size);
  key.write(saddr, 0, 'hex');
  key.write(daddr, 16, 'hex');
  key.writeUInt16LE(dport, 32);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(BigInt(n));
  return [key, value];
}

const LO = [127, 0, 0, 1];
const LO6 = '00000000000000000000000000000001';

describe.skipIf(!built && process.env.CI !== 'true')('count table', () => {
  it('is bcc table, byte for byte, IPv4 block first', () => {
    expect(readFileSync(new URL('./fixtures/bcc-captured-output.txt', import.meta.url), 'latin1')).toContain(BCC_TABLE);
    const ipv4 = decodeCounts([v4(LO, LO, 9, 1), v4(LO, LO, 8080, 2)], 4);
    const ipv6 = decodeCounts([v6(LO6, LO6, 8080, 1)], 6);
    expect(countTable(ipv4, ipv6)).toBe(BCC_TABLE);
  });

  it('sorts by count, highest first, within each family', () => {
    const rows = decodeCounts([v4(LO, LO, 1, 3), v4(LO, LO, 2, 10), v4(LO, LO, 3, 7)], 4);
    expect(rows.map((r) => [r.dport, r.count])).toEqual([
      [2, 10n],
      [3, 7n],
      [1, 3n],
    ]);
  });

  it('breaks ties by key, so the same counts always print the same', () => {
    const a = decodeCounts([v4(LO, [10, 0, 0, 2], 80, 5), v4(LO, [10, 0, 0, 1], 80, 5)], 4);
    const b = decodeCounts([v4(LO, [10, 0, 0, 1], 80, 5), v4(LO, [10, 0, 0, 2], 80, 5)], 4);
    expect(a).toEqual(b);
    expect(a.map((r) => r.daddr)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('prints IPv6 flows as glibc does and pushes wide ones', () => {
    const rows = decodeCounts([v6('20010db8000000000000000000000001', '20010db8aaaabbbbccccddddeeeeffff', 443, 1)], 6);
    expect(countTable([], rows)).toBe(
      '\nLADDR                     RADDR                     RPORT                CONNECTS  \n' +
        '2001:db8::1               2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff 443                  1         \n',
    );
  });

  it("sums each flow's count over the CPUs that counted it", () => {
    const [key] = v4(LO, LO, 80, 0);
    const perCpu = Buffer.alloc(8 * 3);
    [4n, 0n, 5n].forEach((n, cpu) => perCpu.writeBigUInt64LE(n, 8 * cpu));
    const rows = decodeCounts([[key, perCpu], v4(LO, LO, 81, 7)], 4);
    expect(rows.map((r) => [r.dport, r.count])).toEqual([
      [80, 9n],
      [81, 7n],
    ]);
  });

  it('has only the header when nothing was counted', () => {
    expect(countTable([], [])).toBe(
      '\nLADDR                     RADDR                     RPORT                CONNECTS  \n',
    );
  });
});
