// SPDX-License-Identifier: Apache-2.0
//
// Rows, as the addon's RowWriter prints them from struct event records and
// the pieces src/format.ts makes of bcc's formats: bcc's bytes, and the
// same text Python's printf makes of the same formats (test/oracles/).
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  acceptRowParts,
  type Columns,
  header,
  jsonRowParts,
  type RowPart,
  rowParts,
  rowPieces,
} from '../src/format.js';
import { addonPath, loadNative, type NativeRowWriter, type RowField } from '../src/native.js';
import type { PrintfArg } from '../src/printf.js';
import { pendingBatch } from '../src/result.js';
import { formatIPv4, formatIPv6 } from './oracles/inet.js';
import { pySprintf } from './oracles/printf.js';
import { dnsRecord, type EventFields, eventRecord, framed, record } from './records.js';

const built = addonPath() !== null;
const BCC_CAPTURED = readFileSync(new URL('./fixtures/bcc-captured-output.txt', import.meta.url), 'latin1');
if (!built && process.env.CI !== 'true') console.warn(`skipping rows test: the addon is not built`);

const writer = (parts: RowPart[], who?: (id: bigint) => [string, boolean]): NativeRowWriter =>
  new (loadNative().RowWriter)(rowPieces(parts), who);
const WHO = (id: bigint): [string, boolean] => [`,"cgroup_id":${id},"cgroup":"/x","container":null`, true];
const NOW = new Date(2026, 0, 2, 3, 4, 5).getTime();

/** One row, as -d prints it (the suffix), or as every other mode does (''). */
function row(w: NativeRowWriter, f: EventFields, suffix = '', now = NOW): string {
  return w.format(eventRecord(f), now, [suffix]).toString('latin1').replace(/\n$/, '');
}

function lines(w: NativeRowWriter, batch: Buffer, suffixes?: string[]): string[] {
  const rows = w.format(batch, NOW, suffixes).toString('latin1').split('\n');
  expect(rows.pop()).toBe(''); // every row ends in a newline
  return rows;
}

const plain: Columns = { timestamp: false, printUid: false, lport: false, dns: false };
const all: Columns = { timestamp: true, printUid: true, lport: true, dns: false };
const bash: EventFields = { pid: 474, task: 'bash', dport: 8080 };

describe.skipIf(!built && process.env.CI !== 'true')('rows', () => {
  // Verbatim from bcc's tcpconnect-bpfcc 0.26 on Debian's 6.1 kernel
  // (test/fixtures/bcc-captured-output.txt), trailing spaces included.
  it('are bcc rows, trailing spaces included', () => {
    const bcc = '474     bash         4  127.0.0.1        127.0.0.1        8080   ';
    expect(BCC_CAPTURED).toContain(`\n${bcc}\n`);
    expect(row(writer(rowParts(plain)), bash)).toBe(bcc);
  });

  it('with -t -U -L count time from the first row', () => {
    const w = writer(rowParts(all));
    expect([
      row(w, { tsUs: 5_000_000, pid: 690, task: 'bash', lport: 48988, dport: 8080 }),
      row(w, { tsUs: 5_082_000, pid: 691, task: 'bash', ip: 6, lport: 60786, dport: 8080 }),
    ]).toEqual([
      '0.000    0     690     bash         4  127.0.0.1        48988  127.0.0.1        8080   ',
      '0.082    0     691     bash         6  ::1              60786  ::1              8080   ',
    ]);
  });

  it('with -T -t -U start with the wall clock when printed, then TIME(s) and UID', () => {
    const w = writer(rowParts({ ...all, time: true }));
    expect(row(w, { tsUs: 5_000_000, pid: 690, task: 'bash', lport: 48988, dport: 8080 })).toBe(
      '03:04:05 0.000    0     690     bash         4  127.0.0.1        48988  127.0.0.1        8080   ',
    );
  });

  it('with -d end in the query text after DPORT', () => {
    expect(row(writer(rowParts({ ...plain, dns: true })), bash, 'localhost')).toBe(
      '474     bash         4  127.0.0.1        127.0.0.1        8080   localhost',
    );
  });

  it('with -R put LAT(ms) and RESULT after DPORT: exact milliseconds, OK, the errno name, PENDING', () => {
    const w = writer(rowParts({ ...plain, result: true }));
    expect(header({ ...plain, result: true })).toBe(
      'PID     COMM         IP SADDR            DADDR            DPORT  LAT(ms)   RESULT      ',
    );
    expect([
      row(w, { ...bash, err: 0, latUs: 94 }),
      row(w, { ...bash, err: 111, latUs: 3_012_345 }),
      row(w, { ...bash, err: 99, latUs: 5 }),
      row(w, { ...bash, err: loadNative().records.resultPending, latUs: 120_000_000 }),
      row(w, { ...bash, err: 4095, latUs: 0 }),
    ]).toEqual([
      '474     bash         4  127.0.0.1        127.0.0.1        8080   0.094     OK           ',
      '474     bash         4  127.0.0.1        127.0.0.1        8080   3012.345  ECONNREFUSED ',
      '474     bash         4  127.0.0.1        127.0.0.1        8080   0.005     EADDRNOTAVAIL ',
      '474     bash         4  127.0.0.1        127.0.0.1        8080   120000.000 PENDING      ',
      '474     bash         4  127.0.0.1        127.0.0.1        8080   0.000     4095         ',
    ]);
    // With -d, QUERY stays last.
    expect(row(writer(rowParts({ ...plain, result: true, dns: true })), { ...bash, err: 110 }, 'localhost')).toBe(
      '474     bash         4  127.0.0.1        127.0.0.1        8080   0.000     ETIMEDOUT    localhost',
    );
  });

  it('with -R -j carry result, errno (null while pending) and latency_ms after dport', () => {
    const w = writer(jsonRowParts('connect', true), WHO);
    const pending = loadNative().records.resultPending;
    const objects = [
      row(w, { ...bash, err: 0, latUs: 1500 }),
      row(w, { ...bash, err: 113, latUs: 100_250 }),
      row(w, { ...bash, err: pending, latUs: 7 }),
    ].map((l) => JSON.parse(l));
    expect(objects.map((o) => [o.result, o.errno, o.latency_ms])).toEqual([
      ['OK', 0, 1.5],
      ['EHOSTUNREACH', 113, 100.25],
      ['PENDING', null, 0.007],
    ]);
    expect(Object.keys(objects[0]).slice(10, 14)).toEqual(['dport', 'result', 'errno', 'latency_ms']);
  });

  it('print the connects pending at a stop (src/result.ts) in the order they were made, with the time they waited', () => {
    const w = writer(rowParts({ ...plain, result: true }));
    const later = record({ ...bash, pid: 2, tsNs: 3_000_000_000n });
    const earlier = record({ ...bash, pid: 1, tsNs: 1_000_000_000n });
    const text = w.format(pendingBatch([later, earlier], loadNative().records, 4_500_000_000n), NOW);
    expect(
      text
        .toString('latin1')
        .split('\n')
        .slice(0, -1)
        .map((r) => r.split(/ +/).slice(0, 1).concat(r.split(/ +/).slice(6, 8))),
    ).toEqual([
      ['1', '3500.000', 'PENDING'],
      ['2', '1500.000', 'PENDING'],
    ]);
  });

  it('truncate COMM to 12 bytes and let a wide address push the row', () => {
    const ll = 'fe80::2000:bff:fe82:3ac';
    expect(
      row(writer(rowParts(plain)), { pid: 474, task: 'a-very-long-name', ip: 6, saddr: ll, daddr: ll, dport: 22 }),
    ).toBe('474     a-very-long- 6  fe80::2000:bff:fe82:3ac fe80::2000:bff:fe82:3ac 22     ');
  });

  it('round -t as Python does: ties to even', () => {
    const w = writer(rowParts({ ...plain, timestamp: true }));
    row(w, { tsUs: 0 });
    expect(row(w, { tsUs: 62_500 })).toMatch(/^0\.062 {4}/);
    expect(row(w, { tsUs: 187_500 })).toMatch(/^0\.188 {4}/);
    expect(row(w, { tsUs: 1_000_400 })).toMatch(/^1\.000 {4}/);
  });

  it('use whole microseconds, as bcc does with ts_us', () => {
    const w = writer(rowParts({ ...plain, timestamp: true }));
    row(w, { tsNs: 0n });
    // 1.0005 s later in ns, but 1000499 us after the first (999 ns -> 0 us).
    expect(row(w, { tsNs: 1_000_499_999n })).toMatch(/^1\.000 /);
  });

  it('print uids and pids up to 2^32-1, columns run together as in bcc', () => {
    const w = writer(rowParts({ ...plain, printUid: true }));
    expect(row(w, { uid: 4294967295, pid: 4294967295, task: 'curl' })).toMatch(/^42949672954294967295 curl {9}4 /);
  });

  it.each([
    ['an ordinary name as it is', 'sshd-session', 'sshd-session'],
    ['valid UTF-8 as it is', 'caf\xc3\xa9', 'caf\xc3\xa9'],
    ['a lone non-ASCII byte escaped', 'caf\xe9', 'caf\\xe9'],
    [
      'ESC and a newline escaped, so no name can colour the terminal or start a row',
      'x\x1b[31m\n6666',
      'x\\x1b[31m\\x0a6666',
    ],
    ['DEL and a C1 control (CSI) escaped', 'a\x7fb\xc2\x9bc', 'a\\x7fb\\xc2\\x9bc'],
    ['an overlong form and a surrogate escaped', '\xc0\xaf\xed\xa0\x80', '\\xc0\\xaf\\xed\\xa0\\x80'],
    [
      'its first 12 bytes, then escaped, pushing the row',
      '\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0cXYZ',
      '\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x0a\\x0b\\x0c',
    ],
  ])('print COMM: %s', (_what, task, printed) => {
    const text = row(writer(rowParts(plain)), { pid: 1, task });
    expect(text.split(' 4  127.0.0.1')[0]).toBe(`1       ${printed.padEnd(12)}`);
  });

  describe('as -j objects', () => {
    it('parse, field for field, the whole COMM whatever its bytes, and the time from the stamp', () => {
      const w = writer(jsonRowParts('connect'), WHO);
      const tsNs = process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
      for (const [task, comm] of [
        ['a-very-long-name', 'a-very-long-name'],
        ['q"\\\x1b\n\x7f', 'q"\\\x1b\n\x7f'],
        ['caf\xc3\xa9', 'café'],
        ['bad\xe9\xc2\x9b', 'bad\ufffd\x9b'],
      ]) {
        const text = w
          .format(
            eventRecord({
              tsNs,
              pid: 7,
              uid: 1000,
              task,
              ip: 6,
              daddr: '2001:db8::1',
              lport: 5,
              dport: 443,
              cgroupId: 2n ** 63n + 5n,
              mntns: 4026531841,
              netns: 4026531840,
            }),
            NOW,
          )
          .toString('latin1');
        expect(text.endsWith('}\n')).toBe(true);
        expect(text).not.toMatch(/[\x00-\x1f\x7f](?!$)/);
        const o = JSON.parse(Buffer.from(text, 'latin1').toString('utf8'));
        expect(o).toEqual({
          event: 'connect',
          time: o.time,
          pid: 7,
          tid: 0,
          comm,
          uid: 1000,
          ip: 6,
          saddr: '::1',
          lport: 5,
          daddr: '2001:db8::1',
          dport: 443,
          cgroup_id: Number(2n ** 63n + 5n),
          cgroup: '/x',
          container: null,
          mntns: 4026531841,
          netns: 4026531840,
        });
        expect(text).toContain(`"cgroup_id":${2n ** 63n + 5n},`); // every digit of a u64
        expect(Math.abs(Date.parse(o.time) - Date.now())).toBeLessThan(1000);
        expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      }
    });

    it('of tcpaccept name the remote end raddr/rport and the local one laddr/lport', () => {
      const w = writer(jsonRowParts('accept'), WHO);
      const text = w.format(eventRecord({ saddr: '10.0.0.1', lport: 22, daddr: '10.0.0.2', dport: 40000 }), NOW);
      const o = JSON.parse(text.toString('latin1'));
      expect([o.event, o.raddr, o.rport, o.laddr, o.lport]).toEqual(['accept', '10.0.0.2', 40000, '10.0.0.1', 22]);
    });

    it('ask who() once per cgroup when it says keep, and again for a name it could not find', () => {
      const asked: bigint[] = [];
      const w = writer(
        rowParts({ timestamp: false, printUid: false, lport: false, dns: false, container: true }),
        (id) => {
          asked.push(id);
          return id === 9n ? ['cgroup:9', false] : [`unit-${id}.service`, true];
        },
      );
      const batch = framed(
        ...[1n, 2n, 1n, 9n, 1n, 9n].map((cgroupId, i) => record({ pid: 100 + i, task: 'curl', dport: 80, cgroupId })),
      );
      const rows = w.format(batch, NOW).toString('latin1').split('\n').slice(0, -1);
      expect(rows.map((r) => r.split(' ').pop())).toEqual([
        'unit-1.service',
        'unit-2.service',
        'unit-1.service',
        'cgroup:9',
        'unit-1.service',
        'cgroup:9',
      ]);
      expect(asked).toEqual([1n, 2n, 9n, 9n]);
      // bcc's row, then the column.
      expect(rows[0]).toBe(
        `${'100'.padEnd(7)} ${'curl'.padEnd(12)} 4  ${'127.0.0.1'.padEnd(16)} ${'127.0.0.1'.padEnd(16)} ${'80'.padEnd(6)} unit-1.service`,
      );
    });
  });

  it('print IPv6 addresses as glibc does, every one of the golden table', () => {
    const golden: Array<[string, string]> = JSON.parse(
      readFileSync(new URL('./fixtures/inet6-golden.json', import.meta.url), 'utf8'),
    );
    const w = writer([['%s', ['daddr']]]);
    const rec = eventRecord({ ip: 6 });
    for (const [hex, text] of golden) {
      rec.set(Buffer.from(hex, 'hex'), 4 + loadNative().records.event.offsets.daddr);
      expect(w.format(rec, NOW).toString('latin1')).toBe(`${text}\n`);
    }
  });

  it('print IPv4 addresses as dotted decimal, every byte value', () => {
    const w = writer([['%s', ['saddr']]]);
    for (let b = 0; b < 256; b++) {
      const addr = `${b}.${255 - b}.${b % 10}.${(b * 7) % 256}`;
      expect(row(w, { saddr: addr })).toBe(addr);
    }
  });

  describe('of tcpaccept', () => {
    const sshd: EventFields = {
      tsUs: 7_000_000,
      pid: 907,
      task: 'sshd',
      saddr: '192.168.56.102',
      daddr: '192.168.56.1',
      lport: 22,
      dport: 32324,
    };

    it('are bcc rows: remote before local, %-5d ports with their trailing spaces', () => {
      expect(row(writer(acceptRowParts({ time: false, timestamp: false })), sshd)).toBe(
        '907     sshd         4  192.168.56.1     32324 192.168.56.102   22   ',
      );
    });

    it('with -T -t print HH:MM:SS of the local clock, then seconds since the first row', () => {
      const w = writer(acceptRowParts({ time: true, timestamp: true }));
      expect(row(w, sshd)).toMatch(/^03:04:05 0\.000 {4}907 /);
      expect(row(w, { ...sshd, tsUs: 8_500_000 }, '', new Date(2026, 0, 2, 23, 59, 9).getTime())).toMatch(
        /^23:59:09 1\.500 {4}907 /,
      );
    });
  });

  describe('of a batch', () => {
    const w = () => writer(rowParts(plain));

    it('come one per line, in the batch order (the reader put it in time order)', () => {
      const batch = framed(record({ tsUs: 30, pid: 3, task: 'c' }), record({ tsUs: 10, pid: 1, task: 'a' }));
      expect(lines(w(), batch).map((r) => r.split(/ +/)[1])).toEqual(['c', 'a']);
    });

    it('repeat a row only for a record that is the same in every field', () => {
      const uidLport = writer(rowParts({ ...plain, printUid: true, lport: true }));
      const a: EventFields = { pid: 7, task: 'curl', uid: 1000, lport: 40000, dport: 443, daddr: '10.0.0.1' };
      // Each one next to `a`, so that a row looked up by too little of its
      // record would come out as a's.
      const variants: EventFields[] = [
        a,
        { ...a, dport: 444 },
        a,
        { ...a, lport: 40001 },
        a,
        { ...a, uid: 1001 },
        a,
        { ...a, pid: 8 },
        a,
        { ...a, task: 'curk' },
        a,
        { ...a, daddr: '10.0.0.2' },
        a, // each at another time, which is not printed: the same row
      ].map((f, i) => ({ ...f, tsUs: i }));
      const fresh = variants.map(
        (f) => lines(writer(rowParts({ ...plain, printUid: true, lport: true })), eventRecord(f))[0],
      );
      // Twice over, so the second pass finds every row among the recent ones.
      for (let pass = 0; pass < 2; pass++)
        expect(lines(uidLport, Buffer.concat(variants.map((f) => eventRecord(f))))).toEqual(fresh);
      expect(new Set(fresh).size).toBe(7);
    });

    // A repeated row is kept with holes for what changes from connect to
    // connect (the times, the local port, the latency): each row must still
    // print its own. A batch given suffixes is never looked up, so it is the
    // row as written field by field (by the same writer: -j's clock offset
    // and -t's first row are the writer's).
    it.each<[string, RowPart[]]>([
      ['-T -t -U -L -R', rowParts({ ...all, time: true, result: true })],
      ['-j -R', jsonRowParts('connect', true)],
      ['tcpaccept -j', jsonRowParts('accept')],
      ['tcpaccept -T -t', acceptRowParts({ time: true, timestamp: true })],
    ])('keep their own time, port and latency when repeated (%s)', (_, parts) => {
      const same: EventFields = {
        pid: 7,
        task: 'storm',
        uid: 3,
        dport: 443,
        cgroupId: 5n,
        mntns: 9,
        netns: 11,
        err: 0,
      };
      const fields = Array.from(
        { length: 40 },
        (_, i): EventFields => ({
          ...same,
          tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 62_500_123n,
          lport: 40000 + ((i * 7919) % 25000),
          latUs: (i * 104_729) % 3_000_000,
          ...(i % 10 === 9 ? { err: 111 } : {}),
        }),
      );
      const batch = Buffer.concat(fields.map((f) => eventRecord(f)));
      const w = writer(parts, WHO);
      const byField = lines(
        w,
        batch,
        fields.map(() => ''),
      );
      expect(new Set(byField).size).toBe(fields.length);
      for (let pass = 0; pass < 2; pass++) expect(lines(w, batch)).toEqual(byField);
    });

    it("leave DNS answers out, and take -d's suffixes one per connect, in batch order", () => {
      const batch = framed(record({ pid: 2 }), dnsRecord(Buffer.from('answer')), record({ pid: 1 }));
      const rows = lines(writer(rowParts({ ...plain, dns: true })), batch, ['second', 'first']);
      expect(rows.map((r) => [r.split(' ')[0], r.split(' ').pop()])).toEqual([
        ['2', 'second'],
        ['1', 'first'],
      ]);
      expect(() => w().format(batch, NOW, ['one'])).toThrow(
        'expected a suffix for each of the 2 connect records, got 1',
      );
    });

    // The text is the writer's own memory, reused by the next call: a Buffer
    // kept past it must read as empty, never as some later batch's rows.
    it('lend their text until the next format() call', () => {
      const writer = w();
      const first = writer.format(eventRecord({ pid: 1 }), NOW);
      const kept = first.toString('latin1');
      const second = writer.format(eventRecord({ pid: 22 }), NOW);
      expect([first.length, kept.split(' ')[0], second.toString('latin1').split(' ')[0]]).toEqual([0, '1', '22']);
    });

    it('are empty for an empty batch', () => {
      expect(w().format(Buffer.alloc(0), NOW)).toEqual(Buffer.alloc(0));
    });

    it('of thousands of records are all there, whatever the buffer growth', () => {
      const n = 20000;
      const batch = Buffer.concat(
        Array.from({ length: n }, (_, i) =>
          eventRecord({ tsUs: i, pid: i, ip: 6, saddr: 'fe80::1', daddr: `2001:db8::${i.toString(16)}`, dport: 443 }),
        ),
      );
      const rows = lines(writer(rowParts(all)), batch);
      expect(rows).toHaveLength(n);
      expect(rows[n - 1]).toBe(
        `0.020    0     19999   ${' '.repeat(13)}6  fe80::1          0      2001:db8::4e1f   443    `,
      );
    });
  });

  describe("follow the formats as Python's printf does", () => {
    const modes: Array<[string, RowPart[]]> = [];
    for (const timestamp of [false, true])
      for (const printUid of [false, true])
        for (const lport of [false, true])
          for (const dns of [false, true])
            modes.push([
              JSON.stringify({ timestamp, printUid, lport, dns }),
              rowParts({ timestamp, printUid, lport, dns }),
            ]);
    for (const time of [false, true])
      for (const timestamp of [false, true])
        modes.push([`tcpaccept ${JSON.stringify({ time, timestamp })}`, acceptRowParts({ time, timestamp })]);

    // A deterministic spread of every field's range, ties of -t included.
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const events = Array.from({ length: 300 }, (_, i): EventFields & { text: Record<string, PrintfArg> } => {
      const ip = rand(2) ? 4 : 6;
      const bytes = (n: number) => Uint8Array.from({ length: n }, () => (rand(3) ? rand(256) : 0));
      const [s, d] = [bytes(ip === 4 ? 4 : 16), bytes(ip === 4 ? 4 : 16)];
      const saddr = ip === 4 ? formatIPv4(s) : formatIPv6(s);
      const daddr = ip === 4 ? formatIPv4(d) : formatIPv6(d);
      const task = 'abcdefghijklmnop.-_ '.slice(rand(8), 4 + rand(16)); // escaping has tests of its own
      const tsUs = i === 0 ? 0 : rand(2) ? 62_500 * rand(100_000) : rand(2 ** 31) * 1000 + rand(1000);
      const f = {
        tsUs,
        ip: ip as 4 | 6,
        saddr,
        daddr,
        task,
        pid: rand(2 ** 31),
        uid: rand(70000),
        lport: rand(65536),
        dport: rand(65536),
      };
      return {
        ...f,
        text: { ...f, seconds: tsUs / 1e6, clock: '03:04:05', suffix: rand(2) ? '' : `name-${i}.example (1.5ms)` },
      };
    });

    it.each(modes)('%s', (_, parts) => {
      const w = writer(parts);
      for (const ev of events) {
        const expected = parts
          .map(([format, fields]) => pySprintf(format, ...fields.map((f: RowField) => ev.text[f])))
          .join('');
        expect(row(w, ev, String(ev.text.suffix))).toBe(expected);
      }
    });
  });

  it('refuse a field printed with the wrong conversion, or one that does not exist', () => {
    const { RowWriter } = loadNative();
    expect(() => new RowWriter([{ field: 'pid', conv: 's', width: 0, precision: -1, left: false }])).toThrow(
      'row field pid prints with %d, not %s',
    );
    expect(
      () => new RowWriter([{ field: 'nope' as RowField, conv: 'd', width: 0, precision: -1, left: false }]),
    ).toThrow('no row field named nope');
  });
});
