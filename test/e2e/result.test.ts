// SPDX-License-Identifier: Apache-2.0
//
// -R and -x end to end: each connect's outcome, on whichever attach path
// runs (TCPCONNECT_TEST_ATTACH; the VM stage runs both). Failures are made
// in a network namespace the test creates (test/e2e/netns.ts): a silent
// host, one that never answers ARP, no route, an unreachable route.
import { type ChildProcess, spawn } from 'node:child_process';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import {
  ATTACH,
  closedPort,
  connectFrom,
  describeE2E,
  listeners,
  ourProgramsAfterExit,
  stopAll,
  ToolRun,
} from './harness.js';
import { createNetns, NO_ARP_HOST, SILENT_HOST, UNREACHABLE_HOST, UNROUTED_HOST } from './netns.js';

/** A -R row's fields: PID COMM IP SADDR DADDR DPORT LAT(ms) RESULT. */
interface ResultRow {
  pid: number;
  comm: string;
  ip: number;
  saddr: string;
  daddr: string;
  dport: number;
  ms: number;
  result: string;
}

function parse(row: string): ResultRow {
  const f = row.trim().split(/ +/);
  return {
    pid: Number(f[0]),
    comm: f[1],
    ip: Number(f[2]),
    saddr: f[3],
    daddr: f[4],
    dport: Number(f[5]),
    ms: Number(f[6]),
    result: f[7],
  };
}

const exited = (child: ChildProcess) => new Promise((r) => child.on('close', r));

describeE2E('tcpconnect -R and -x: each connect with its outcome', () => {
  let ports: Awaited<ReturnType<typeof listeners>>;
  let ns: ReturnType<typeof createNetns>;
  beforeAll(async () => {
    ports = await listeners();
    ns = createNetns();
  });
  afterAll(() => {
    ports?.close();
    ns?.remove();
  });
  afterEach(stopAll);

  const rowsOf = (tool: ToolRun, pid: number) => tool.rows().filter((r) => r.startsWith(`${pid} `));

  it('prints LAT(ms) and RESULT after DPORT: OK within the call, refused as ECONNREFUSED, v4 and v6', async () => {
    const tool = await ToolRun.start(['-R', ...ATTACH]);
    expect(tool.stdout.split('\n')[1]).toBe(
      'PID     COMM         IP SADDR            DADDR            DPORT  LAT(ms)   RESULT      ',
    );
    const ok = await connectFrom('tcpc-res-ok', '127.0.0.1', ports.v4);
    const ok6 = await connectFrom('tcpc-res-ok6', '::1', ports.v6);
    const refused = await connectFrom('tcpc-res-ref', '127.0.0.1', await closedPort());
    expect([ok.error, ok6.error, refused.error]).toEqual([null, null, 'ECONNREFUSED']);
    for (const c of [ok, ok6, refused]) await tool.waitForRow((r) => r.startsWith(`${c.pid} `));
    await tool.stop();
    const row = parse(rowsOf(tool, ok.pid)[0]);
    expect(row).toMatchObject({ comm: 'tcpc-res-ok', ip: 4, daddr: '127.0.0.1', dport: ports.v4, result: 'OK' });
    // From the SYN to the outcome: inside the connect's own wall time.
    expect(row.ms).toBeGreaterThanOrEqual(0);
    expect(row.ms).toBeLessThanOrEqual(ok.ms);
    expect(rowsOf(tool, ok.pid)[0]).toMatch(/ \d+\.\d{3} {4,}OK {11}$/);
    expect(parse(rowsOf(tool, ok6.pid)[0])).toMatchObject({ ip: 6, daddr: '::1', result: 'OK' });
    expect(parse(rowsOf(tool, refused.pid)[0]).result).toBe('ECONNREFUSED');
    expect(tool.rows().filter((r) => / tcpc-res-/.test(r))).toHaveLength(3);
  });

  it('says ETIMEDOUT for a silent host after the SYN retries (about 3 s), and EHOSTUNREACH when ARP fails', async () => {
    const tool = await ToolRun.start(['-R', ...ATTACH]);
    const [silent, noArp] = await Promise.all([
      connectFrom('tcpc-res-tmo', SILENT_HOST, 80, { netns: ns.name }),
      connectFrom('tcpc-res-arp', NO_ARP_HOST, 80, { netns: ns.name }),
    ]);
    expect([silent.error, noArp.error]).toEqual(['ETIMEDOUT', 'EHOSTUNREACH']);
    for (const c of [silent, noArp]) await tool.waitForRow((r) => r.startsWith(`${c.pid} `));
    await tool.stop();
    const t = parse(rowsOf(tool, silent.pid)[0]);
    expect(t).toMatchObject({ saddr: '198.18.0.1', daddr: SILENT_HOST, dport: 80, result: 'ETIMEDOUT' });
    expect(t.ms).toBeGreaterThan(2500);
    expect(t.ms).toBeLessThanOrEqual(silent.ms);
    expect(parse(rowsOf(tool, noArp.pid)[0])).toMatchObject({ daddr: NO_ARP_HOST, result: 'EHOSTUNREACH' });
  });

  it('says ENETUNREACH (no route) and EHOSTUNREACH (an unreachable route) for connects that fail before any SYN', async () => {
    const tool = await ToolRun.start(['-R', ...ATTACH]);
    const noRoute = await connectFrom('tcpc-res-nrt', UNROUTED_HOST, 80, { netns: ns.name });
    const unreachable = await connectFrom('tcpc-res-unr', UNREACHABLE_HOST, 443, { netns: ns.name });
    expect([noRoute.error, unreachable.error]).toEqual(['ENETUNREACH', 'EHOSTUNREACH']);
    for (const c of [noRoute, unreachable]) await tool.waitForRow((r) => r.startsWith(`${c.pid} `));
    await tool.stop();
    expect(parse(rowsOf(tool, noRoute.pid)[0])).toMatchObject({
      comm: 'tcpc-res-nrt',
      ip: 4,
      saddr: '0.0.0.0',
      daddr: UNROUTED_HOST,
      dport: 80,
      result: 'ENETUNREACH',
    });
    expect(parse(rowsOf(tool, unreachable.pid)[0])).toMatchObject({
      daddr: UNREACHABLE_HOST,
      dport: 443,
      result: 'EHOSTUNREACH',
    });
    expect(rowsOf(tool, noRoute.pid)).toHaveLength(1);
  });

  it('gives one ECONNABORTED row to a connect closed before any answer, and to one killed inside connect()', async () => {
    const tool = await ToolRun.start(['-R', ...ATTACH]);
    const closed = await connectFrom('tcpc-res-abt', SILENT_HOST, 80, { netns: ns.name, abortAfterMs: 300 });
    expect(closed.error).toBe('ABORTED');
    // bash's /dev/tcp is a blocking connect(): killed while it waits.
    const bash = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-c', `exec 3<>/dev/tcp/${SILENT_HOST}/81`]);
    await new Promise((r) => setTimeout(r, 400));
    bash.kill('SIGKILL');
    await exited(bash);
    await tool.waitForRow((r) => r.startsWith(`${closed.pid} `));
    await tool.waitForRow((r) => r.startsWith(`${bash.pid!} `));
    await new Promise((r) => setTimeout(r, 300));
    await tool.stop();
    expect(rowsOf(tool, closed.pid).map((r) => parse(r).result)).toEqual(['ECONNABORTED']);
    expect(rowsOf(tool, bash.pid!).map((r) => parse(r).result)).toEqual(['ECONNABORTED']);
    expect(parse(rowsOf(tool, bash.pid!)[0]).dport).toBe(81);
  });

  it('gives one row to a connect whose process is stopped and continued during the handshake', async () => {
    const tool = await ToolRun.start(['-R', ...ATTACH]);
    const bash = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-c', `exec 3<>/dev/tcp/${SILENT_HOST}/82`]);
    await new Promise((r) => setTimeout(r, 400));
    bash.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 400));
    bash.kill('SIGCONT');
    await exited(bash); // times out after the SYN retries
    await tool.waitForRow((r) => r.startsWith(`${bash.pid!} `), 8000);
    await new Promise((r) => setTimeout(r, 300));
    await tool.stop();
    expect(rowsOf(tool, bash.pid!).map((r) => parse(r).result)).toEqual(['ETIMEDOUT']);
  });

  it('prints a connect still waiting at the stop as PENDING, with the time it has waited', async () => {
    const tool = await ToolRun.start(['-R', ...ATTACH]);
    const bash = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-c', `exec 3<>/dev/tcp/${SILENT_HOST}/83`]);
    try {
      await new Promise((r) => setTimeout(r, 600));
      expect(rowsOf(tool, bash.pid!)).toEqual([]); // its row waits for the outcome
      const done = await tool.stop();
      expect(done.code).toBe(0);
    } finally {
      bash.kill('SIGKILL');
    }
    const rows = rowsOf(tool, bash.pid!).map(parse);
    expect(rows.map((r) => [r.daddr, r.dport, r.result])).toEqual([[SILENT_HOST, 83, 'PENDING']]);
    expect(rows[0].ms).toBeGreaterThan(300);
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it('with -x prints only the failures, with the same columns', async () => {
    const tool = await ToolRun.start(['-x', ...ATTACH]);
    expect(tool.stdout.split('\n')[1]).toContain(' DPORT  LAT(ms)   RESULT');
    const ok = await connectFrom('tcpc-x-ok', '127.0.0.1', ports.v4);
    const refused = await connectFrom('tcpc-x-ref', '127.0.0.1', await closedPort());
    const noRoute = await connectFrom('tcpc-x-nrt', UNROUTED_HOST, 80, { netns: ns.name });
    const after = await connectFrom('tcpc-x-ref2', '::1', await closedPort());
    await tool.waitForRow((r) => r.startsWith(`${after.pid} `));
    await tool.stop();
    expect(rowsOf(tool, ok.pid)).toEqual([]);
    expect([refused, noRoute].map((c) => rowsOf(tool, c.pid).map((r) => parse(r).result))).toEqual([
      ['ECONNREFUSED'],
      ['ENETUNREACH'],
    ]);
  });

  it('with -c -x counts only the failed connects, and -c -R counts them all', async () => {
    const refusedPort = await closedPort();
    const counts = async (flag: string) => {
      const tool = await ToolRun.start(['-c', flag, ...ATTACH], 1);
      await connectFrom('tcpc-cx-ok', '127.0.0.1', ports.v4);
      await connectFrom('tcpc-cx-ref', '127.0.0.1', refusedPort);
      await connectFrom('tcpc-cx-nrt', UNROUTED_HOST, 80, { netns: ns.name });
      const done = await tool.stop();
      const flow = (daddr: string, port: number) =>
        done.stdout
          .split('\n')
          .map((l) => l.trim().split(/ +/))
          .filter((f) => f[1] === daddr && f[2] === String(port))
          .map((f) => Number(f[3]));
      return [flow('127.0.0.1', ports.v4), flow('127.0.0.1', refusedPort), flow(UNROUTED_HOST, 80)];
    };
    // -c -R counts at connect time, as -c: a connect with no route never got that far.
    expect(await counts('-x')).toEqual([[], [1], [1]]);
    expect(await counts('-R')).toEqual([[1], [1], []]);
  });

  it('with -R -j adds result, errno and latency_ms to each object', async () => {
    const tool = await ToolRun.start(['-R', '-j', ...ATTACH], 0);
    await tool.waitUntil(() => tool.stderr.includes(' tracing with '));
    const ok = await connectFrom('tcpc-rj-ok', '127.0.0.1', ports.v4);
    const refused = await connectFrom('tcpc-rj-ref', '127.0.0.1', await closedPort());
    await tool.waitUntil(() => tool.stdout.includes(`"pid":${refused.pid},`));
    await tool.stop();
    const objects = tool.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const of = (pid: number) => objects.find((o) => o.pid === pid);
    expect(of(ok.pid)).toMatchObject({ event: 'connect', comm: 'tcpc-rj-ok', dport: ports.v4, result: 'OK', errno: 0 });
    expect(of(ok.pid).lport).toBe(ok.localPort);
    expect(of(ok.pid).latency_ms).toBeGreaterThanOrEqual(0);
    expect(of(ok.pid).latency_ms).toBeLessThanOrEqual(ok.ms);
    expect(of(refused.pid)).toMatchObject({ result: 'ECONNREFUSED', errno: 111 });
    // The outcome's keys come right after dport; the other keys are -j's (test/e2e/json.test.ts).
    const keys = Object.keys(of(ok.pid));
    expect(keys.slice(keys.indexOf('dport'), keys.indexOf('dport') + 4)).toEqual([
      'dport',
      'result',
      'errno',
      'latency_ms',
    ]);
  });
});
