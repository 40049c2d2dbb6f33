// SPDX-License-Identifier: Apache-2.0
//
// bcc's own tcpconnect (Debian's bpfcc-tools) and ours, side by side on the
// same connects, inside a VM whose kernel has kprobes (scripts/vm-stage.sh).
// Rows must be identical; only TIME(s) may differ: by rounding with kprobes
// (bcc's hook points, a few microseconds apart), and by the distance between
// SYN_SENT and tcp_v4_connect's return with tracepoints (tens of milliseconds
// under emulation).
import { existsSync } from 'node:fs';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { closedPort, connectFrom, listeners, stopAll, ToolRun } from '../e2e/harness.js';
import { SLOW } from '../slow.js';

const BCC = '/usr/sbin/tcpconnect-bpfcc';
// bcc compiles its C with clang at start: minutes under emulation. 600 s in
// all (the harness's waits are multiplied by SLOW).
const BCC_READY_MS = 600_000 / SLOW;

/** Starts bcc and our tool with both attach methods, all with the same flags. */
async function sideBySide(flags: string[], headerLines: number): Promise<Record<string, ToolRun>> {
  const bcc = await ToolRun.spawn('/usr/bin/python3', [BCC, ...flags], headerLines, BCC_READY_MS);
  const kprobe = await ToolRun.start([...flags, '--attach', 'kprobe'], headerLines);
  const tracepoint = await ToolRun.start([...flags, '--attach', 'tracepoint'], headerLines);
  return { bcc, kprobe, tracepoint };
}

async function stopAllOf(runs: Record<string, ToolRun>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, run] of Object.entries(runs)) {
    const done = await run.stop('SIGINT');
    expect(done.code, `${name} exit status; stderr: ${done.stderr}`).toBe(0);
    out[name] = done.stdout;
  }
  return out;
}

function show(outputs: Record<string, string>): string {
  return Object.entries(outputs)
    .map(([name, out]) => `----- ${name}\n${out}`)
    .join('\n');
}

describe('ours against bcc, on a kernel with kprobes', () => {
  let ports: Awaited<ReturnType<typeof listeners>>;
  let refused: number;
  beforeAll(async () => {
    expect(existsSync(BCC), `${BCC} (bpfcc-tools) must be installed`).toBe(true);
    ports = await listeners();
    refused = await closedPort();
  });
  afterAll(() => ports?.close());
  afterEach(stopAll);

  async function theConnects(): Promise<void> {
    await connectFrom('tcpc-diff-v4', '127.0.0.1', ports.v4);
    await connectFrom('tcpc-diff-v6', '::1', ports.v6);
    await connectFrom('tcpc-diff-map', '::ffff:127.0.0.1', ports.v4);
    await connectFrom('tcpc-diff-ref', '127.0.0.1', refused);
    await connectFrom('tcpc-diff-v4', '127.0.0.1', ports.v4);
    await connectFrom('tcpc-diff-v6', '::1', ports.v6);
    await new Promise((r) => setTimeout(r, 1000));
  }

  it.each([[[]], [['-t', '-U', '-L']]])('prints the same rows with flags %j', async (flags: string[]) => {
    const runs = await sideBySide(flags, 2);
    await theConnects();
    const outputs = await stopAllOf(runs);
    const ours = (out: string) => out.split('\n').filter((l) => l.includes('tcpc-diff'));
    // TIME(s) is measured by each tool from its own first row and its own probe: allow rounding.
    const split = (row: string) => (flags.includes('-t') ? [Number(row.slice(0, 9)), row.slice(9)] : [0, row]);
    const want = ours(outputs.bcc);
    expect(want.length, show(outputs)).toBe(6);
    // Under emulation the gap between SYN_SENT and the return varies by tens of ms,
    // and two kretprobes on the same return run ms apart when the host deschedules
    // a vCPU between them (2 ms seen on 6.1). A wrong unit or origin is off by far more.
    const toleranceS = 0.05;
    for (const name of ['kprobe', 'tracepoint']) {
      const got = ours(outputs[name]);
      expect(got.length, show(outputs)).toBe(want.length);
      got.forEach((row, i) => {
        const [t, rest] = split(row);
        const [wt, wrest] = split(want[i]);
        expect(rest, show(outputs)).toBe(wrest);
        expect(Math.abs((t as number) - (wt as number)), show(outputs)).toBeLessThanOrEqual(toleranceS);
      });
      // Banner and header too, byte for byte.
      expect(outputs[name].split('\n').slice(0, 2), show(outputs)).toEqual(outputs.bcc.split('\n').slice(0, 2));
    }
  });

  it('prints the same -c table', async () => {
    const runs = await sideBySide(['-c'], 1);
    await theConnects();
    const outputs = await stopAllOf(runs);
    const ourPorts = (out: string) =>
      out.split('\n').filter((l, i) => i <= 2 || [ports.v4, ports.v6, refused].some((p) => l.includes(` ${p} `)));
    const want = ourPorts(outputs.bcc);
    expect(want.length, show(outputs)).toBe(3 + 3);
    expect(ourPorts(outputs.kprobe), show(outputs)).toEqual(want);
    expect(ourPorts(outputs.tracepoint), show(outputs)).toEqual(want);
  });
});
