// SPDX-License-Identifier: Apache-2.0
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';

import { DNS_CACHE_SIZE, DnsCache } from '../src/dns/cache.js';
import { addressBytes } from './records.js';

const MS = 1000; // µs

function response(name: string, answers: dnsPacket.Answer[], extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name }], answers, ...extra });
}

describe('DnsCache', () => {
  it('names an A answer with its question', () => {
    const c = new DnsCache();
    expect(c.add(response('www.example.com', [{ type: 'A', name: 'www.example.com', data: '192.0.2.1' }]), 0)).toBe(1);
    expect(c.query(addressBytes('192.0.2.1'), 50 * MS)).toBe('www.example.com');
    // An IPv6 address is never an IPv4 one, whatever bytes it holds.
    expect(c.query(addressBytes('::ffff:192.0.2.1'), 50 * MS)).toBe('No DNS Query');
    expect(c.query(addressBytes('c000:201::'), 50 * MS)).toBe('No DNS Query');
  });

  it('maps a CNAME chain to the name asked for', () => {
    const c = new DnsCache();
    c.add(
      response('www.example.com', [
        { type: 'CNAME', name: 'www.example.com', data: 'edge.cdn.example' },
        { type: 'A', name: 'edge.cdn.example', data: '192.0.2.9' },
      ]),
      0,
    );
    expect(c.query(addressBytes('192.0.2.9'), 0)).toBe('www.example.com');
  });

  it('compares AAAA answers by their bytes, whatever text dns-packet gives them', () => {
    const c = new DnsCache();
    c.add(
      response('six.example', [
        { type: 'AAAA', name: 'six.example', data: '2001:0:0:1::1' },
        { type: 'AAAA', name: 'six.example', data: '::ffff:198.51.100.1' },
      ]),
      0,
    );
    expect(c.query(addressBytes('2001:0:0:1::1'), 0)).toBe('six.example');
    expect(c.query(addressBytes('2001:0000:0000:0001:0000:0000:0000:0001'), 0)).toBe('six.example');
    expect(c.query(addressBytes('::ffff:198.51.100.1'), 0)).toBe('six.example');
  });

  it('appends the delay from the kernel timestamps when over 100 ms', () => {
    const c = new DnsCache();
    c.add(response('slow.example', [{ type: 'A', name: 'slow.example', data: '192.0.2.2' }]), 1000 * MS);
    expect(c.query(addressBytes('192.0.2.2'), 1100 * MS)).toBe('slow.example');
    expect(c.query(addressBytes('192.0.2.2'), 1000 * MS + 123_457)).toBe('slow.example (123.457ms)');
  });

  it('keeps the most recent answer', () => {
    const c = new DnsCache();
    c.add(response('old.example', [{ type: 'A', name: 'old.example', data: '192.0.2.3' }]), 0);
    c.add(response('new.example', [{ type: 'A', name: 'new.example', data: '192.0.2.3' }]), 1);
    expect(c.query(addressBytes('192.0.2.3'), 1)).toBe('new.example');
  });

  it('says No DNS Query, or localhost for loopback, when nothing answered', () => {
    const c = new DnsCache();
    expect(c.query(addressBytes('192.0.2.4'), 0)).toBe('No DNS Query');
    expect(c.query(addressBytes('127.0.0.1'), 0)).toBe('localhost');
    expect(c.query(addressBytes('::1'), 0)).toBe('localhost');
    c.add(response('lo.example', [{ type: 'A', name: 'lo.example', data: '127.0.0.1' }]), 0);
    expect(c.query(addressBytes('127.0.0.1'), 0)).toBe('lo.example');
  });

  it('ignores queries, responses with other than one question, and other record types', () => {
    const c = new DnsCache();
    const a = { type: 'A' as const, name: 'q.example', data: '192.0.2.5' };
    expect(
      c.add(dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'q.example' }], answers: [a] }), 0),
    ).toBe(0);
    expect(
      c.add(
        dnsPacket.encode({
          type: 'response',
          id: 1,
          questions: [
            { type: 'A', name: 'q.example' },
            { type: 'A', name: 'r.example' },
          ],
          answers: [a],
        }),
        0,
      ),
    ).toBe(0);
    expect(c.add(response('t.example', [{ type: 'TXT', name: 't.example', data: 'x' }]), 0)).toBe(0);
    expect(c.size).toBe(0);
  });

  it('escapes control characters in a name, so that an answer cannot forge a row', () => {
    const c = new DnsCache();
    const evil = 'a\x1b[2J\n6666 sshd.example';
    c.add(response(evil, [{ type: 'A', name: evil, data: '192.0.2.66' }]), 0);
    expect(c.query(addressBytes('192.0.2.66'), 0)).toBe('a\\x1b[2J\\x0a6666 sshd.example');
  });

  it('rejects, undecoded and counted, a header whose counts cannot fit its length', () => {
    const c = new DnsCache();
    const hostile = Buffer.from([0, 1, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for (let i = 0; i < 1000; i++) expect(c.add(hostile, i)).toBe(0);
    expect(c.rejected).toBe(1000);
    const ok = response('ok.example', [{ type: 'A', name: 'ok.example', data: '192.0.2.67' }]);
    expect(c.add(ok, 0)).toBe(1);
    const claimsMore = Buffer.from(ok);
    claimsMore.writeUInt16BE(40, 6); // 40 answers can't fit in the packet's length
    expect(c.add(claimsMore, 0)).toBe(0);
    expect(c.rejected).toBe(1001);
  });

  it("gives -j's query keys: the name and its age, localhost, or null", () => {
    const c = new DnsCache();
    c.add(response('db.example', [{ type: 'A', name: 'db.example', data: '192.0.2.7' }]), 1000 * MS);
    const keys = (addr: string, tsUs: number) => JSON.parse(`{"x":0${c.queryJson(addressBytes(addr), tsUs)}}`);
    expect(keys('192.0.2.7', 1000 * MS + 123_457)).toEqual({ x: 0, query: 'db.example', query_age_ms: 123.457 });
    expect(keys('127.0.0.1', 0)).toEqual({ x: 0, query: 'localhost', query_age_ms: null });
    expect(keys('192.0.2.8', 0)).toEqual({ x: 0, query: null, query_age_ms: null });
    const evil = 'x\x1b\n\x9b.example';
    c.add(response(evil, [{ type: 'A', name: evil, data: '192.0.2.9' }]), 0);
    const text = c.queryJson(addressBytes('192.0.2.9'), 0);
    expect(text).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(JSON.parse(`{${text.slice(1)}}`).query).toBe(evil);
  });

  it('stays bounded however many answers arrive', () => {
    const c = new DnsCache();
    for (let i = 0; i < DNS_CACHE_SIZE + 5000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      c.add(response(`h${i}.example`, [{ type: 'A', name: `h${i}.example`, data: ip }]), i);
    }
    expect(c.size).toBe(DNS_CACHE_SIZE);
    expect(c.query(addressBytes('10.0.0.0'), 0)).toBe('No DNS Query'); // the oldest went first
  });

  it('survives random and mutated packets without throwing (fuzz)', () => {
    // A small deterministic generator, so a failure can be replayed.
    let seed = 0x5eed;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const valid = response('fuzz.example', [
      { type: 'CNAME', name: 'fuzz.example', data: 'a.fuzz.example' },
      { type: 'A', name: 'a.fuzz.example', data: '192.0.2.6' },
      { type: 'AAAA', name: 'a.fuzz.example', data: '2001:db8::6' },
    ]);
    const c = new DnsCache();
    for (let i = 0; i < 20000; i++) {
      let pkt: Buffer;
      if (i % 3 === 0) {
        pkt = Buffer.from(Array.from({ length: Math.floor(rand() * 600) }, () => Math.floor(rand() * 256)));
      } else {
        pkt = Buffer.from(valid);
        for (let f = 0; f < 1 + rand() * 8; f++) pkt[Math.floor(rand() * pkt.length)] ^= 1 << Math.floor(rand() * 8);
        if (i % 3 === 2) pkt = pkt.subarray(0, Math.floor(rand() * pkt.length)); // truncated
      }
      expect(() => c.add(pkt, i)).not.toThrow();
    }
    expect(c.size).toBeLessThanOrEqual(DNS_CACHE_SIZE);
  });
});
