import { describe, expect, it } from 'vitest';

import { DNS_EVENT_LAYOUT, EVENT_LAYOUT, decodeBatch, type ConnectEvent } from '../src/decode.js';

const o = EVENT_LAYOUT.offsets;

/** One length-prefixed struct event, as the addon hands it over. */
function record(ts: bigint, task: Uint8Array | string, pid = 1): Buffer {
  const b = Buffer.alloc(4 + EVENT_LAYOUT.size);
  b.writeUInt32LE(EVENT_LAYOUT.size, 0);
  const r = b.subarray(4);
  r.writeBigUInt64LE(ts, o.ts_ns);
  r.writeUInt32LE(1, o.kind);
  r.writeUInt32LE(pid, o.pid);
  r.writeUInt16LE(80, o.dport);
  r.set([192, 0, 2, 1], o.saddr);
  r.set([198, 51, 100, 2], o.daddr);
  r[o.ip] = 4;
  if (typeof task === 'string') r.write(task, o.task, 'latin1');
  else r.set(task, o.task);
  return b;
}

const events = (batch: Buffer): ConnectEvent[] =>
  decodeBatch(batch).records.map((r) => (r.kind === 'connect' ? r.event : (undefined as never)));

describe('decodeBatch', () => {
  it('turns kernel nanoseconds into whole microseconds exactly, past 2^53 ns', () => {
    for (const ts of [0n, 999n, 1000n, 2n ** 53n + 1999n, 2n ** 63n + 123_456_789n, 2n ** 64n - 1n]) {
      expect(events(record(ts, 'x'))[0].tsUs).toBe(Number(ts / 1000n));
    }
  });

  it('reads each task name right, however names repeat and whatever follows their NUL', () => {
    const names = Array.from({ length: 12 }, (_, i) => `task-${i}`);
    const order = [0, 1, 0, 2, 11, 3, 4, 5, 6, 7, 8, 9, 10, 0, 11, 1, 1, 5];
    const batch = Buffer.concat(order.map((i, n) => record(BigInt(n), names[i])));
    expect(events(batch).map((e) => e.task)).toEqual(order.map((i) => names[i]));
    // Same name, other bytes after the NUL; and a full 16-byte name with no NUL.
    const tail = new Uint8Array(16);
    tail.set(Buffer.from('task-0\0junk', 'latin1'));
    const full = Buffer.from('abcdefghijklmnop', 'latin1');
    expect(events(Buffer.concat([record(1n, tail), record(2n, full), record(3n, 'task-0')])).map((e) => e.task)).toEqual([
      'task-0',
      'abcdefghijklmnop',
      'task-0',
    ]);
  });

  it('reads each address right, however addresses repeat, v4 and v6 of the same bytes apart', () => {
    // 12 addresses of each family go round an 8-entry cache, in and out of it.
    const v4 = Array.from({ length: 12 }, (_, i) => [10, 0, i >> 1, i]);
    // v6 addresses differ in their last byte only.
    const v6 = Array.from({ length: 12 }, (_, i) => [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, i]);
    const order = [0, 1, 0, 2, 11, 3, 4, 5, 6, 7, 8, 9, 10, 0, 11, 1, 1, 5];
    const recs = order.flatMap((i, n) => {
      const a = record(BigInt(2 * n), 'a');
      a.subarray(4).set(v4[i], o.saddr);
      a.subarray(4).set(v4[11 - i], o.daddr);
      const b = record(BigInt(2 * n + 1), 'b');
      const r = b.subarray(4);
      r[o.ip] = 6;
      r.set(v6[i], o.saddr);
      // The v6 daddr starts with the same 4 bytes as a v4 address.
      r.set([...v4[i], ...v6[i].slice(4)], o.daddr);
      return [a, b];
    });
    const v6text = (bytes: number[]) =>
      Array.from({ length: 8 }, (_, w) => ((bytes[2 * w] << 8) | bytes[2 * w + 1]).toString(16))
        .join(':')
        .replace(/(^|:)0(:0)+(:|$)/, '::');
    expect(events(Buffer.concat(recs)).map((e) => `${e.saddr} ${e.daddr}`)).toEqual(
      order.flatMap((i) => [
        `${v4[i].join('.')} ${v4[11 - i].join('.')}`,
        `${v6text(v6[i])} ${v6text([...v4[i], ...v6[i].slice(4)])}`,
      ]),
    );
  });

  it('puts a perf buffer batch (ring by ring) in time order, keeping ties in order', () => {
    const batch = Buffer.concat([record(3000n, 'a', 1), record(1000n, 'b', 2), record(3000n, 'c', 3), record(2000n, 'd', 4)]);
    expect(events(batch).map((e) => e.pid)).toEqual([2, 4, 1, 3]);
  });

  it('skips and counts records too short for their kind, or of no known kind', () => {
    const short = Buffer.alloc(4 + 20);
    short.writeUInt32LE(20, 0);
    const unknown = record(5n, 'u');
    unknown.writeUInt32LE(9, 4 + o.kind);
    const dnsTooLong = Buffer.alloc(4 + DNS_EVENT_LAYOUT.offsets.payload);
    dnsTooLong.writeUInt32LE(DNS_EVENT_LAYOUT.offsets.payload, 0);
    dnsTooLong.writeUInt32LE(2, 4 + DNS_EVENT_LAYOUT.offsets.kind);
    dnsTooLong.writeUInt32LE(100, 4 + DNS_EVENT_LAYOUT.offsets.len); // says 100 bytes, carries none
    const cut = record(6n, 'cut').subarray(0, 30);
    const { records, malformed } = decodeBatch(Buffer.concat([record(1n, 'ok'), short, unknown, dnsTooLong, cut]));
    expect(records).toHaveLength(1);
    expect(malformed).toBe(4);
  });
});
