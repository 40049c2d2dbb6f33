// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';

import type { ConnectEvent } from '../src/decode.js';
import { BANNER, RowFormatter, header } from '../src/format.js';
import { ByteSink, formatter, sprintf } from '../src/printf.js';

// Verbatim from bcc's tcpconnect-bpfcc 0.26 on Debian's 6.1 kernel
// (shared/reference/bcc-captured-output.txt), trailing spaces included.
const BCC = {
  header: 'PID     COMM         IP SADDR            DADDR            DPORT ',
  row: '474     bash         4  127.0.0.1        127.0.0.1        8080   ',
  headerTUL: 'TIME(s)  UID   PID     COMM         IP SADDR            LPORT  DADDR            DPORT ',
  rowsTUL: [
    '0.000    0     690     bash         4  127.0.0.1        48988  127.0.0.1        8080   ',
    '0.082    0     691     bash         6  ::1              60786  ::1              8080   ',
  ],
};

const plain = { timestamp: false, printUid: false, lport: false, dns: false };
const all = { timestamp: true, printUid: true, lport: true, dns: false };

function ev(over: Partial<ConnectEvent>): ConnectEvent {
  return {
    tsUs: 0,
    pid: 474,
    uid: 0,
    ip: 4,
    saddr: '127.0.0.1',
    daddr: '127.0.0.1',
    lport: 0,
    dport: 8080,
    task: 'bash',
    ...over,
  };
}

describe('header', () => {
  it('is bcc banner and header, byte for byte', () => {
    expect(BANNER).toBe('Tracing connect ... Hit Ctrl-C to end');
    expect(header(plain)).toBe(BCC.header);
  });

  it('with -t -U -L is bcc header', () => {
    expect(header(all)).toBe(BCC.headerTUL);
  });

  it('with -d ends in QUERY, as bcc', () => {
    expect(header({ ...plain, dns: true })).toBe('PID     COMM         IP SADDR            DADDR            DPORT  QUERY');
  });

  it('with -U only puts UID first', () => {
    expect(header({ ...plain, printUid: true })).toBe(`UID   ${BCC.header}`);
  });
});

describe('rows', () => {
  it('are bcc rows, trailing spaces included', () => {
    expect(new RowFormatter(plain).row(ev({}))).toBe(BCC.row);
  });

  it('with -t -U -L count time from the first row', () => {
    const f = new RowFormatter(all);
    const first = f.row(ev({ tsUs: 5_000_000, pid: 690, lport: 48988 }));
    const second = f.row(
      ev({ tsUs: 5_082_000, pid: 691, ip: 6, saddr: '::1', daddr: '::1', lport: 60786 }),
    );
    expect([first, second]).toEqual(BCC.rowsTUL);
  });

  it('with -d end in the query text after DPORT', () => {
    expect(new RowFormatter({ ...plain, dns: true }).row(ev({}), 'localhost')).toBe(
      '474     bash         4  127.0.0.1        127.0.0.1        8080   localhost',
    );
  });

  it('truncate COMM to 12 bytes and let a wide address push the row', () => {
    const row = new RowFormatter(plain).row(
      ev({ task: 'a-very-long-name', ip: 6, saddr: 'fe80::2000:bff:fe82:3ac', daddr: 'fe80::2000:bff:fe82:3ac', dport: 22 }),
    );
    expect(row).toBe('474     a-very-long- 6  fe80::2000:bff:fe82:3ac fe80::2000:bff:fe82:3ac 22     ');
  });

  it('round -t as Python does: ties to even', () => {
    const f = new RowFormatter({ ...plain, timestamp: true });
    f.row(ev({ tsUs: 0 }));
    expect(f.row(ev({ tsUs: 62_500 }))).toMatch(/^0\.062    /);
    expect(f.row(ev({ tsUs: 187_500 }))).toMatch(/^0\.188    /);
    expect(f.row(ev({ tsUs: 1_000_400 }))).toMatch(/^1\.000    /);
  });

  it('use whole microseconds, as bcc does with ts_us', () => {
    const f = new RowFormatter({ ...plain, timestamp: true });
    f.row(ev({ tsUs: 0 }));
    // 1.0005 s later in ns, but 1000499 us after the first (999 ns -> 0 us).
    expect(f.row(ev({ tsUs: 1_000_499 }))).toMatch(/^1\.000 /);
  });
});

describe('sprintf', () => {
  it.each([
    ['%-6d|', [7], '7     |'],
    ['%6d|', [7], '     7|'],
    ['%-3.2s|', ['abcdef'], 'ab |'],
    ['%-9.3f|', [1.5], '1.500    |'],
    ['%-9.3f|', [0.0625], '0.062    |'],
    ['%.3f', [2.5625], '2.562'],
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

  it('writes bytes into a sink that grows, one byte per latin1 char', () => {
    const sink = new ByteSink(16);
    const row = formatter('%-7d %-12.12s %s|');
    for (let i = 0; i < 5000; i++) row(sink, i, 'caf\xe9-task-name', 'x');
    const text = sink.takeText();
    expect(text.length).toBe(5000 * 23);
    expect(text.slice(0, 23)).toBe('0       caf\xe9-task-na x|');
    expect(text.slice(-23)).toBe('4999    caf\xe9-task-na x|');
    expect(sink.len).toBe(0);
  });

  it('refuses too few arguments', () => {
    expect(() => sprintf('%d %d', 1)).toThrow(/too few/);
  });
});
