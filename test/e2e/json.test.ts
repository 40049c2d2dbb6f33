// SPDX-License-Identifier: Apache-2.0
//
// -j end to end: every line parses, and each object says what the text row
// of the same connect (or accept) says, run side by side on the same
// kernel events.
import { spawn } from 'node:child_process';
import net from 'node:net';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { SLOW } from '../slow.js';

import {
  ACCEPT_CLI,
  ATTACH,
  closedPort,
  connectFrom,
  describeE2E,
  listeners,
  NOBODY,
  stopAll,
  ToolRun,
} from './harness.js';

const parse = (tool: ToolRun) =>
  tool.stdout
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l));

/** -j prints no header: the run is ready when stderr says how it traces. */
async function startJson(args: string[], cli?: string): Promise<ToolRun> {
  const tool = await ToolRun.start(args, 0, cli);
  await tool.waitUntil(() => tool.stderr.includes(' tracing with '));
  return tool;
}

/** Who made it: the keys every -j object ends with (before -d's). */
const WHO_KEYS = ['cgroup_id', 'cgroup', 'container', 'mntns', 'netns'];

describeE2E('-j end to end', () => {
  let ports: Awaited<ReturnType<typeof listeners>>;
  beforeAll(async () => {
    ports = await listeners();
  });
  afterAll(() => ports?.close());
  afterEach(stopAll);

  it("gives tcpconnect's rows as JSON lines, field for field, with the kernel's time", async () => {
    const text = await ToolRun.start(['-U', '-L', ...ATTACH]);
    const json = await startJson(['-j', ...ATTACH]);
    expect(json.stdout).toBe(''); // no banner, no header
    const before = Date.now();
    const a = await connectFrom('tcpc-json4', '127.0.0.1', ports.v4, { uid: NOBODY });
    const b = await connectFrom('tcpc-json6', '::1', ports.v6);
    const refused = await connectFrom('tcpc-json-no', '127.0.0.1', await closedPort());
    const after = Date.now();
    const mine = (o: { comm: string }) => o.comm.startsWith('tcpc-json');
    await json.waitUntil(() => json.stdout.split('\n').filter((l) => l.includes('"tcpc-json')).length === 3);
    await text.waitUntil(() => text.rows().filter((r) => r.includes(' tcpc-json')).length === 3);
    await json.stop();
    await text.stop();
    const objects = parse(json).filter(mine);
    expect(objects.map((o) => o.pid)).toEqual([a.pid, b.pid, refused.pid]);
    for (const o of objects) {
      expect(Object.keys(o)).toEqual([
        'event',
        'time',
        'pid',
        'tid',
        'comm',
        'uid',
        'ip',
        'saddr',
        'lport',
        'daddr',
        'dport',
        ...WHO_KEYS,
      ]);
      expect(o.event).toBe('connect');
      expect(o.tid).toBe(o.pid); // the connector's main thread
      expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const t = Date.parse(o.time);
      expect(t).toBeGreaterThanOrEqual(before - 2000);
      expect(t).toBeLessThanOrEqual(after + 2000);
      // bcc's -U -L row of the same connect: UID PID COMM IP SADDR LPORT DADDR DPORT
      const row = text.rows().find((r) => r.includes(` ${o.pid} `))!;
      const [uid, pid, comm, ip, saddr, lport, daddr, dport] = row.trim().split(/ +/);
      expect([o.uid, o.pid, o.comm, o.ip, o.saddr, o.lport, o.daddr, o.dport]).toEqual([
        Number(uid),
        Number(pid),
        comm,
        Number(ip),
        saddr,
        Number(lport),
        daddr,
        Number(dport),
      ]);
    }
    expect(objects[0].uid).toBe(NOBODY);
    const times = objects.map((o) => o.time);
    expect([...times].sort()).toEqual(times); // never goes back
  });

  it('keeps every line valid JSON whatever a task calls itself', async () => {
    const json = await startJson(['-j', ...ATTACH]);
    const name = 'q"\\\x1b\n\x7f';
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('fs').writeFileSync('/proc/self/comm', ${JSON.stringify(name)});
         const s = require('net').connect(${ports.v4}, '127.0.0.1', () => s.destroy());`,
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => child.on('close', r));
    await json.waitUntil(() => json.stdout.includes(`"pid":${child.pid},`));
    await json.stop();
    const line = json.stdout.split('\n').find((l) => l.includes(`"pid":${child.pid},`))!;
    expect(line).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(JSON.parse(line).comm).toBe(name);
  });

  it('gives tcpaccept -j and tcpconnect -c -j their objects', async () => {
    const accept = await startJson(['-j', ...ATTACH], ACCEPT_CLI);
    const count = await startJson(['-c', '-j', ...ATTACH]);
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const c = await connectFrom('tcpc-json-acc', '127.0.0.1', port, { count: 3 });
    await accept.waitUntil(() => parse(accept).filter((o) => o.lport === port).length === 3);
    await accept.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect((await count.stop()).code).toBe(0);
    server.close();
    const accepts = parse(accept).filter((o) => o.lport === port);
    expect(accepts.map((o) => o.rport)).toEqual(c.localPorts);
    for (const o of accepts) {
      expect(Object.keys(o)).toEqual([
        'event',
        'time',
        'pid',
        'tid',
        'comm',
        'ip',
        'raddr',
        'rport',
        'laddr',
        'lport',
        ...WHO_KEYS,
      ]);
      expect([o.event, o.pid, o.ip, o.raddr, o.laddr]).toEqual(['accept', process.pid, 4, '127.0.0.1', '127.0.0.1']);
    }
    const counted = parse(count).filter((o) => o.dport === port);
    expect(counted).toEqual([{ event: 'count', saddr: '127.0.0.1', daddr: '127.0.0.1', dport: port, connects: 3 }]);
  });

  // 20 000 connects: ~3 s here, ~95 s in the VM stage's emulated CPUs.
  it('says a loss as a line of its own, and on stderr as bcc does', { timeout: 60000 * SLOW }, async () => {
    // Stopped, the reader takes nothing while one CPU's ring (1 MiB, ~12 000
    // records) overflows; continued, it reads what is there and counts the rest.
    const json = await startJson(['-j', ...ATTACH]);
    json.proc.kill('SIGSTOP');
    const burst = await connectFrom('tcpc-json-lost', '127.0.0.1', ports.v4, { count: 20000, cpu: 0 });
    json.proc.kill('SIGCONT');
    const rows = () => json.stdout.split('\n').filter((l) => l.includes('"tcpc-json-lost"')).length;
    await json.waitUntil(() => json.stdout.includes('{"event":"lost","count":'), 10000);
    await json.stop();
    const lost = parse(json)
      .filter((o) => o.event === 'lost')
      .reduce((n, o) => n + o.count, 0);
    expect(burst.error).toBeNull();
    expect(lost).toBeGreaterThan(0);
    expect(rows() + lost).toBeGreaterThanOrEqual(20000);
    const said = [...json.stderr.matchAll(/Possibly lost (\d+) samples/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(said).toBe(lost);
  });
});
