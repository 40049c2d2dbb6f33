// SPDX-License-Identifier: Apache-2.0
//
// The kprobe path where this kernel allows: its programs must load and pass
// the verifier everywhere, and attach wherever the kernel has kprobes.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { expect, it } from 'vitest';

import { chooseTransport } from '../../src/events.js';
import { loadNative, type NativeBinding, type TracerSpec } from '../../src/native.js';
import { attachPlan as acceptPlan } from '../../src/tcpaccept.js';
import { attachPlan } from '../../src/tcpconnect.js';
import { CLI, describeE2E, loadedPrograms, ourProgramsAfterExit, ToolRun } from './harness.js';

const kernelHasKprobes =
  existsSync('/sys/bus/event_source/devices/kprobe') || existsSync('/sys/kernel/tracing/kprobe_events');

/** The spec of a tracer that loads these programs, on the transport the kernel has. */
function spec(native: NativeBinding, rodata: Record<string, Buffer>, programs: string[]): TracerSpec {
  const { transport, rodata: transportRodata } = chooseTransport(native, { ordered: false, stamped: false });
  return { rodata: { ...rodata, ...transportRodata }, programs, transport };
}

const options = {
  json: false,
  time: false,
  timestamp: false,
  family: 0,
  lport: true,
  printUid: false,
  count: false,
  dns: false,
  result: false,
  failed: false,
  cgroups: [] as string[],
  netns: [] as string[],
  container: false,
  attach: 'kprobe',
} as const;

describeE2E('kprobe path', () => {
  it('loads its programs and they pass the verifier (for -L, -p, -u, -P, -6, -c, -d, -C, -j, -R, -x, every container filter alike)', async () => {
    const native = loadNative();
    for (const extra of [
      {},
      { pid: 1, uid: 0, ports: [80, 443], family: 6 as const },
      { count: true },
      { dns: true },
      { containers: true },
      { container: true, json: true },
      { result: true },
      { result: true, failed: true, count: true },
    ]) {
      // The container filters' code, with the object's own (empty) maps.
      const netns = Buffer.alloc(4 * native.records.maxNetnsFilters);
      const containers = {
        rodata: {
          filter_cgroup: Buffer.from([1]),
          filter_mntns: Buffer.from([1]),
          filter_cgroups: Buffer.from([1, 0, 0, 0]),
          filter_netns_count: Buffer.from([1, 0, 0, 0]),
          filter_netns: netns,
        },
        reuseMaps: {},
        mapUpdates: [],
      };
      const plan = attachPlan({ ...options, ...extra }, native, 'containers' in extra ? containers : undefined);
      const tracer = new native.Tracer(plan.object, spec(native, plan.rodata, plan.kprobe.programs));
      try {
        const loaded = loadedPrograms();
        for (const p of plan.kprobe.programs) expect(loaded).toContain(p);
      } finally {
        tracer.close();
      }
    }
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it("loads tcpaccept's kretprobe and it passes the verifier", () => {
    const native = loadNative();
    const plan = acceptPlan(
      {
        json: false,
        time: false,
        timestamp: false,
        family: 6,
        pid: 1,
        ports: [22],
        cgroups: [],
        netns: [],
        container: false,
        attach: 'kprobe',
      },
      native,
    );
    const tracer = new native.Tracer(plan.object, spec(native, plan.rodata, plan.kprobe.programs));
    try {
      expect(loadedPrograms()).toContain('tcpa_accept_ret');
    } finally {
      tracer.close();
    }
  });

  it(`--attach kprobe ${kernelHasKprobes ? 'traces with kprobes' : 'exits 1 with one line'} on this kernel`, async () => {
    if (kernelHasKprobes) {
      const tool = await ToolRun.start(['--attach', 'kprobe']);
      const done = await tool.stop('SIGINT');
      expect(done.code).toBe(0);
      expect(done.stderr).toBe('tcpconnect: tracing with kprobes on tcp_v4_connect, tcp_v6_connect\n');
    } else {
      const r = spawnSync(process.execPath, [CLI, '--attach', 'kprobe'], { encoding: 'utf8', timeout: 10000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^tcpconnect: cannot attach kprobes on tcp_v4_connect, tcp_v6_connect: .*try --attach tracepoint\n$/,
      );
    }
    expect(await ourProgramsAfterExit()).toEqual([]);
  });
});
