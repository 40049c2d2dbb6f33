// SPDX-License-Identifier: Apache-2.0
//
// The record stream: the addon's reader (native/reader.cc) frames what the
// rings give and puts it in time order, holding back what another ring may
// still precede; TypeScript walks the ordered batch (src/records.ts).

import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';

import { DnsCache } from '../src/dns/cache.js';
import { dnsQueries } from '../src/dns/match.js';
import { addonPath, loadNative } from '../src/native.js';
import { forEachRecord, microseconds } from '../src/records.js';
import { dnsRecord, framed, record } from './records.js';

const built = addonPath() !== null;
if (!built && process.env.CI !== 'true') console.warn(`skipping reader test: the addon is not built`);

const NEVER = 2n ** 64n - 1n; // a cutoff no stamp reaches: nothing held back

/** The pids of a batch's connect records, in batch order. */
function pids(batch: Buffer): number[] {
  const { records } = loadNative();
  const out: number[] = [];
  forEachRecord(batch, records, (kind, off) => {
    if (kind === records.recordConnect) out.push(batch.readUInt32LE(off + records.event.offsets.pid));
  });
  return out;
}

describe.skipIf(!built && process.env.CI !== 'true')('the reader', () => {
  const collate = (runs: Buffer[][], cutoff = NEVER) => loadNative().collate(runs, cutoff);

  it('frames one ring as it came, records and answers alike', () => {
    const answer = dnsRecord(Buffer.from('payload'), 3);
    const { batch, held, malformed } = collate([[record({ tsUs: 5, pid: 1 }), answer, record({ tsUs: 4, pid: 2 })]]);
    // One ring is in the order the kernel sent it, stamps or not.
    expect(batch).toEqual(framed(record({ tsUs: 5, pid: 1 }), answer, record({ tsUs: 4, pid: 2 })));
    expect([held.length, malformed]).toEqual([0, 0]);
  });

  it('merges a ring per CPU into time order, ties in the order read', () => {
    const run = (...ts: number[]) => ts.map((tsUs) => record({ tsUs, pid: tsUs * 10 + (tsUs === 40 ? 1 : 0) }));
    const x = run(10, 40, 70);
    const y = run(20, 50);
    const z = [record({ tsUs: 5, pid: 50 }), record({ tsUs: 40, pid: 402 }), record({ tsUs: 90, pid: 900 })];
    expect(pids(collate([x, y, z]).batch)).toEqual([50, 100, 200, 401, 402, 500, 700, 900]);
  });

  it('holds back what is stamped at or after the cutoff, for the next batch, in order', () => {
    const a = [record({ tsUs: 1, pid: 1 }), record({ tsUs: 30, pid: 30 })];
    const b = [record({ tsUs: 2, pid: 2 }), record({ tsUs: 20, pid: 20 })];
    const { batch, held } = collate([a, b], 20_000n);
    expect(pids(batch)).toEqual([1, 2]);
    expect(pids(held)).toEqual([20, 30]);
  });

  it('leaves out and counts records too short for their kind, or of no known kind', () => {
    const { records } = loadNative();
    const unknown = record({ pid: 9 });
    unknown.writeUInt32LE(9, records.event.offsets.kind);
    const lying = dnsRecord(Buffer.alloc(0));
    lying.writeUInt32LE(100, records.dnsEvent.offsets.len); // says 100 bytes, carries none
    const tooLong = dnsRecord(Buffer.alloc(records.dnsMaxPayload + 1));
    const short = record({ pid: 8 }).subarray(0, 40);
    const { batch, malformed } = collate([[record({ pid: 1 }), unknown, lying, tooLong, short, Buffer.alloc(4)]]);
    expect(pids(batch)).toEqual([1]);
    expect(malformed).toBe(5);
  });

  it('takes a perf sample padded past the record', () => {
    const padded = Buffer.concat([record({ pid: 7 }), Buffer.alloc(4)]);
    expect(pids(collate([[padded]]).batch)).toEqual([7]);
  });
});

describe.skipIf(!built && process.env.CI !== 'true')('a batch, read in TypeScript', () => {
  it('turns kernel nanoseconds into whole microseconds exactly, past 2^53 ns', () => {
    for (const ts of [0n, 999n, 1000n, 2n ** 53n + 1999n, 2n ** 63n + 123_456_789n, 2n ** 64n - 1n]) {
      const r = record({ tsNs: ts });
      expect(microseconds(r, 0)).toBe(Number(ts / 1000n));
    }
  });

  it('stops at a cut frame rather than read past the batch', () => {
    const whole = framed(record({ pid: 1 }), record({ pid: 2 }));
    expect(pids(whole.subarray(0, whole.length - 1))).toEqual([1]);
  });

  it('gives -d each connect the answer read before it, in one walk', () => {
    const answer = (name: string, data: string) =>
      dnsPacket.encode({
        type: 'response',
        id: 1,
        questions: [{ type: 'A', name }],
        answers: [{ type: 'A', name, data }],
      });
    const batch = framed(
      record({ tsUs: 1, daddr: '192.0.2.7' }), // before any answer
      dnsRecord(answer('db.example', '192.0.2.7'), 2),
      record({ tsUs: 3, daddr: '192.0.2.7' }),
      record({ tsUs: 4, ip: 6, daddr: '::1' }),
    );
    expect(dnsQueries(loadNative().records, new DnsCache())(batch)).toEqual([
      'No DNS Query',
      'db.example',
      'localhost',
    ]);
  });
});
