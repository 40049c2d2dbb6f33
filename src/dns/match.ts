// SPDX-License-Identifier: Apache-2.0
//
// -d: the QUERY column of each connect in a batch, from the DNS answers
// read before it. A batch is in time order (the reader's), so one walk
// does it: an answer goes into the cache, a connect looks its address up.

import type { NativeRecords } from '../native.js';
import { forEachRecord, microseconds } from '../records.js';
import { rowBytes } from '../text.js';
import type { DnsCache } from './cache.js';

/**
 * For each batch, one QUERY text per connect record, in batch order (as
 * the RowWriter takes them), or with `json` the -j keys.
 */
export function dnsQueries(records: NativeRecords, cache: DnsCache, json = false): (batch: Buffer) => string[] {
  const { event, dnsEvent, recordConnect, recordDns } = records;
  const e = event.offsets;
  const d = dnsEvent.offsets;
  return (batch) => {
    const queries: string[] = [];
    forEachRecord(batch, records, (kind, off) => {
      if (kind === recordDns) {
        const start = off + d.payload;
        cache.add(batch.subarray(start, start + batch.readUInt32LE(off + d.len)), microseconds(batch, off + d.ts_ns));
      } else if (kind === recordConnect) {
        const start = off + e.daddr;
        const daddr = batch.subarray(start, start + (batch[off + e.ip] === 4 ? 4 : 16));
        const tsUs = microseconds(batch, off + e.ts_ns);
        const text = json ? cache.queryJson(daddr, tsUs) : cache.query(daddr, tsUs);
        queries.push(rowBytes(text));
      }
    });
    return queries;
  };
}
