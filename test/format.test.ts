// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { BANNER, header, rowParts, rowPieces } from '../src/format.js';
import { sprintf } from '../src/printf.js';

// Verbatim from bcc's tcpconnect-bpfcc 0.26 on Debian's 6.1 kernel
// (test/fixtures/bcc-captured-output.txt), trailing spaces included.
const BCC = {
  header: 'PID     COMM         IP SADDR            DADDR            DPORT ',
  headerTUL: 'TIME(s)  UID   PID     COMM         IP SADDR            LPORT  DADDR            DPORT ',
};

const plain = { timestamp: false, printUid: false, lport: false, dns: false };
const all = { timestamp: true, printUid: true, lport: true, dns: false };

describe('header', () => {
  it('is what the fixture holds', () => {
    const captured = readFileSync(new URL('./fixtures/bcc-captured-output.txt', import.meta.url), 'latin1');
    for (const line of [BANNER, BCC.header, BCC.headerTUL]) expect(captured).toContain(`\n${line}\n`);
  });

  it('is bcc banner and header, byte for byte', () => {
    expect(BANNER).toBe('Tracing connect ... Hit Ctrl-C to end');
    expect(header(plain)).toBe(BCC.header);
  });

  it('with -t -U -L is bcc header', () => {
    expect(header(all)).toBe(BCC.headerTUL);
  });

  it('with -d ends in QUERY, as bcc', () => {
    expect(header({ ...plain, dns: true })).toBe(
      'PID     COMM         IP SADDR            DADDR            DPORT  QUERY',
    );
  });

  it('with -T puts TIME first, before TIME(s) and UID, as tcpaccept -T', () => {
    expect(header({ ...all, time: true })).toBe(`TIME     ${BCC.headerTUL}`);
  });

  it('with -U only puts UID first', () => {
    expect(header({ ...plain, printUid: true })).toBe(`UID   ${BCC.header}`);
  });
});

describe('row pieces', () => {
  it('give each conversion of bcc format its field, text between', () => {
    expect(rowPieces([['%-6d|%-2.2s', ['uid', 'task']]])).toEqual([
      { field: 'uid', conv: 'd', width: 6, precision: -1, left: true },
      { text: '|' },
      { field: 'task', conv: 's', width: 2, precision: 2, left: true },
    ]);
  });

  it('end in the suffix field, after the DPORT column and its space', () => {
    const pieces = rowPieces(rowParts(plain));
    expect(pieces.slice(-3)).toEqual([
      { field: 'dport', conv: 'd', width: 6, precision: -1, left: true },
      { text: ' ' },
      { field: 'suffix', conv: 's', width: 0, precision: -1, left: false },
    ]);
  });

  it('refuse a format whose conversions are not its fields, one for one', () => {
    expect(() => rowPieces([['%d %d', ['pid']]])).toThrow(/does not print fields pid/);
    expect(() => rowPieces([['%d', ['pid', 'uid']]])).toThrow(/does not print fields pid, uid/);
  });
});

describe('sprintf', () => {
  it.each([
    ['%-6d|', [7], '7     |'],
    ['%6d|', [7], '     7|'],
    ['%-3.2s|', ['abcdef'], 'ab |'],
    ['%s%%', ['x'], 'x%'],
    ['%-4d|', [-3], '-3  |'],
    ['%4d|', [0], '   0|'],
    ['%d', [12345678901234567890n], '12345678901234567890'],
    ['%d|%d', [2.7, '41'], '2|41'],
    ['%-5s|', [42], '42   |'],
    ['%3s|', ['\xe9'], '  \xe9|'],
    ['%-2.12s|', ['longer than twelve'], 'longer than |'],
  ] as const)('formats %s like Python', (fmt, args, out) => {
    expect(sprintf(fmt, ...args)).toBe(out);
  });

  it('refuses too few arguments', () => {
    expect(() => sprintf('%d %d', 1)).toThrow(/too few/);
  });

  it('leaves %f to the rows, which print it in the addon', () => {
    expect(() => sprintf('%-9.3f', 1.5)).toThrow(/native\/rows.cc/);
  });
});
