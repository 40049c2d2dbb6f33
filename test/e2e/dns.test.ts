// SPDX-License-Identifier: Apache-2.0
//
// -d end to end: a real DNS server on loopback, real lookups through Node's
// resolver (c-ares, connected UDP sockets) and through a plain unconnected
// UDP socket, over IPv4 and IPv6, then a real connect to the answer.
import { Resolver } from 'node:dns/promises';
import net from 'node:net';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { askUnconnected, type Responder, startResponder } from './dns-responder.js';
import { ATTACH, armedConnector, describeE2E, stopAll, ToolRun } from './harness.js';

const EVIL = 'x\x1b[31m\n6666 sshd.tcpc.test'; // lower case: the responder's zone is

// Loopback addresses that answers point to (all of 127/8 is local).
const ZONE = {
  'api.tcpc.test': [{ type: 'A', name: 'api.tcpc.test', data: '127.0.0.2' }],
  'www.tcpc.test': [
    { type: 'CNAME', name: 'www.tcpc.test', data: 'edge.cdn.tcpc.test' },
    { type: 'A', name: 'edge.cdn.tcpc.test', data: '127.0.0.3' },
  ],
  'slow.tcpc.test': [{ type: 'A', name: 'slow.tcpc.test', data: '127.0.0.4' }],
  'udp.tcpc.test': [{ type: 'A', name: 'udp.tcpc.test', data: '127.0.0.6' }],
  'six.tcpc.test': [{ type: 'AAAA', name: 'six.tcpc.test', data: '::1' }],
  'sixudp.tcpc.test': [{ type: 'A', name: 'sixudp.tcpc.test', data: '127.0.0.7' }],
  // A hostile name: ESC sequences and a newline that would start a fake row.
  [EVIL]: [{ type: 'A', name: EVIL, data: '127.0.0.8' }],
} as const;

// Under emulation (the VM stage sets TCPCONNECT_TEST_SLOW) even an immediate
// connect may come more than 100 ms after the answer, which adds bcc's delay.
const DELAY = process.env.TCPCONNECT_TEST_SLOW ? String.raw`( \(\d+\.\d{3}ms\))?` : '';
const named = (addr: string, name: string) =>
  new RegExp(` ${addr.replace(/\./g, '\\.')} +\\d+ +${name.replace(/\./g, '\\.')}${DELAY}$`);

const HEADER = 'PID     COMM         IP SADDR            DADDR            DPORT  QUERY';

describeE2E('tcpconnect -d end to end', () => {
  let dns: Responder;
  let server: net.Server;
  let port: number;
  beforeAll(async () => {
    dns = await startResponder(ZONE as never);
    server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '::', () => r())); // dual stack: 127/8 and ::1
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => {
    dns?.close();
    server?.close();
  });
  afterEach(stopAll);

  /** Runs lookup, then connects at once from a child that was started beforehand. */
  async function rowFor(tool: ToolRun, comm: string, host: string, lookup?: () => Promise<unknown>): Promise<string> {
    const child = await armedConnector(comm, host, port);
    await lookup?.();
    const c = await child.fire();
    expect(c.error).toBeNull();
    return tool.waitForRow((r) => r.startsWith(`${c.pid} `));
  }

  it('names connects after lookups through a resolver, over IPv4 and IPv6 transport', async () => {
    const tool = await ToolRun.start(['-d', ...ATTACH]);
    expect(tool.stdout.split('\n')[1]).toBe(HEADER);
    const v4 = new Resolver();
    v4.setServers([dns.v4]);
    const v6 = new Resolver();
    v6.setServers([`[${dns.v6}]:53`]);

    // comm, the address connected to, how it was looked up, the name asked for
    const cases: Array<[string, string, () => Promise<string[]>, string]> = [
      ['tcpc-dns-api', '127.0.0.2', () => v4.resolve4('api.tcpc.test'), 'api.tcpc.test'],
      ['tcpc-dns-www', '127.0.0.3', () => v4.resolve4('www.tcpc.test'), 'www.tcpc.test'],
      ['tcpc-dns-six', '::1', () => v6.resolve6('six.tcpc.test'), 'six.tcpc.test'],
      ['tcpc-dns-6to4', '127.0.0.7', () => v6.resolve4('sixudp.tcpc.test'), 'sixudp.tcpc.test'],
    ];
    for (const [comm, host, lookup, name] of cases) {
      const row = await rowFor(tool, comm, host, async () => expect(await lookup()).toEqual([host]));
      expect(row).toMatch(named(host, name));
    }
  });

  it('names connects after answers to an unconnected UDP socket, IPv4 and IPv6', async () => {
    const tool = await ToolRun.start(['-d', ...ATTACH]);
    const ask = (server: string, name: string) => async () =>
      expect((await askUnconnected(server, name, 'A')).answers?.length).toBe(1);
    expect(await rowFor(tool, 'tcpc-dns-udp', '127.0.0.6', ask(dns.v4, 'udp.tcpc.test'))).toMatch(
      named('127.0.0.6', 'udp.tcpc.test'),
    );
    expect(await rowFor(tool, 'tcpc-dns-api6', '127.0.0.2', ask(dns.v6, 'api.tcpc.test'))).toMatch(
      named('127.0.0.2', 'api.tcpc.test'),
    );
  });

  it('says No DNS Query, localhost, and the delay when the answer came over 100 ms before', async () => {
    const tool = await ToolRun.start(['-d', ...ATTACH]);
    const r = new Resolver();
    r.setServers([dns.v4]);
    const slow = await rowFor(tool, 'tcpc-dns-slow', '127.0.0.4', async () => {
      await r.resolve4('slow.tcpc.test');
      await new Promise((res) => setTimeout(res, 300));
    });
    const ms = Number(slow.match(/ slow\.tcpc\.test \((\d+\.\d{3})ms\)$/)?.[1]);
    expect(ms, slow).toBeGreaterThanOrEqual(300);
    expect(ms, slow).toBeLessThan(5000);
    expect(await rowFor(tool, 'tcpc-dns-none', '127.0.0.5')).toMatch(/ 127\.0\.0\.5 +\d+ +No DNS Query$/);
    expect(await rowFor(tool, 'tcpc-dns-lo', '127.0.0.1')).toMatch(/ 127\.0\.0\.1 +\d+ +localhost$/);
  });

  it('escapes control bytes in a DNS name, so that an answer cannot forge a row', async () => {
    const tool = await ToolRun.start(['-d', ...ATTACH]);
    const ask = async () => expect((await askUnconnected(dns.v4, EVIL, 'A')).answers?.length).toBe(1);
    const row = await rowFor(tool, 'tcpc-dns-evil', '127.0.0.8', ask);
    expect(row).toMatch(named('127.0.0.8', 'x\\x1b[31m\\x0a6666 sshd.tcpc.test'.replace(/[[\\]/g, '\\$&')));
    await tool.stop();
    expect(tool.stdout).not.toMatch(/\x1b|\n6666/);
  });

  it('refuses -d with -c, as bcc, but as a usage error', async () => {
    const { spawnSync } = await import('node:child_process');
    const { CLI } = await import('./harness.js');
    const r = spawnSync(process.execPath, [CLI, '-c', '-d'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').pop()).toBe('tcpconnect: error: you may not specify -d/--dns with -c/--count');
  });
});
