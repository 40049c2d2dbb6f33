// SPDX-License-Identifier: Apache-2.0
//
// Containers and services without Docker: cgroup v2 directories named as
// the runtimes name them, made here, with processes moved into them that
// connect (and accept); --cgroup and --netns filters in the kernel; -C's
// CONTAINER column and -j's identity keys.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { cgroup2Mount } from '../../src/cgroups.js';
import { SLOW } from '../slow.js';
import {
  ACCEPT_CLI,
  ATTACH,
  armedConnector,
  bccRow,
  CLI,
  connectFrom,
  describeE2E,
  listeners,
  stopAll,
  ToolRun,
} from './harness.js';
import { createNetns } from './netns.js';

const ACCEPTOR = path.join(path.dirname(new URL(import.meta.url).pathname), 'acceptor.mjs');
const id64 = (c: string) => c.repeat(64);
// Below the test's own slice: each runtime's way of naming a container, a unit, and neither.
const LAYOUT = {
  docker: `system.slice/docker-${id64('a')}.scope`,
  kube: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12ab_34cd.slice/cri-containerd-${id64('b')}.scope`,
  cgroupfs: `docker/${id64('c')}`,
  crio: `kubepods/besteffort/pod12ab/crio-${id64('d')}.scope`,
  podman: `user.slice/libpod-${id64('e')}.scope`,
  service: 'system.slice/nginx-test.service',
  plain: 'plain',
} as const;
const LABELS: Record<keyof typeof LAYOUT, (slice: string) => string> = {
  docker: () => 'aaaaaaaaaaaa',
  kube: () => 'bbbbbbbbbbbb',
  cgroupfs: () => 'cccccccccccc',
  crio: () => 'dddddddddddd',
  podman: () => 'eeeeeeeeeeee',
  service: () => 'nginx-test.service',
  plain: (slice) => `/${slice}/plain`,
};

describeE2E('--cgroup, --netns and -C end to end', () => {
  const mount = cgroup2Mount();
  const slice = `tcpc-test-${process.pid}.slice`;
  const other = `tcpc-other-${process.pid}`;
  const dir = (rel: string) => path.join(mount!, rel);
  const made: string[] = [];
  const children: ChildProcess[] = [];
  let ports: Awaited<ReturnType<typeof listeners>>;

  beforeAll(async () => {
    expect(mount).not.toBeNull();
    ports = await listeners();
    for (const rel of [...Object.values(LAYOUT).map((r) => `${slice}/${r}`), other]) {
      let at = '';
      for (const part of rel.split('/')) {
        at = at ? `${at}/${part}` : part;
        if (!fs.existsSync(dir(at))) {
          fs.mkdirSync(dir(at));
          made.push(dir(at));
        }
      }
    }
  });
  afterAll(() => {
    ports?.close();
    for (const d of made.reverse()) fs.rmdirSync(d);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await stopAll();
  });

  /** A connect from a child first moved into cgroup `rel` (below the mount); it exits at once after. */
  const connectIn = async (rel: string, comm: string) => {
    const c = await armedConnector(comm, '127.0.0.1', ports.v4);
    fs.writeFileSync(path.join(dir(rel), 'cgroup.procs'), String(c.pid));
    const done = await c.fire();
    expect(done.error).toBeNull();
    return done.pid;
  };

  it('-C names the container (docker, cri-containerd, cgroupfs, crio, libpod), the systemd unit, else the path', async () => {
    const tool = await ToolRun.start(['-C', ...ATTACH]);
    expect(tool.stdout.split('\n')[1]).toBe(
      'PID     COMM         IP SADDR            DADDR            DPORT  CONTAINER',
    );
    for (const [name, rel] of Object.entries(LAYOUT) as Array<[keyof typeof LAYOUT, string]>) {
      const pid = await connectIn(`${slice}/${rel}`, `tcpc-${name}`);
      const row = await tool.waitForRow((r) => r.startsWith(`${pid} `));
      // The child connected and exited at once: still named, from the id the kernel took.
      expect(row).toBe(bccRow(pid, `tcpc-${name}`, 4, '127.0.0.1', '127.0.0.1', ports.v4) + LABELS[name](slice));
    }
    expect((await tool.stop()).code).toBe(0);
  });

  it('--cgroup on a parent keeps its descendants and drops the rest', async () => {
    const tool = await ToolRun.start(['--cgroup', dir(slice), ...ATTACH]);
    const outside = await connectIn(other, 'tcpc-outside');
    const mine = await connectFrom('tcpc-mine', '127.0.0.1', ports.v4); // the test's own cgroup
    const inside = await connectIn(`${slice}/${LAYOUT.kube}`, 'tcpc-inside');
    // Rows come in time order: once the last connect's row is out, so would the others' be.
    await tool.waitForRow((r) => r.startsWith(`${inside} `));
    const done = await tool.stop();
    const pids = tool.rows().map((r) => Number(r.split(' ')[0]));
    expect(pids).toContain(inside);
    expect(pids).not.toContain(outside);
    expect(pids).not.toContain(mine.pid);
    expect(done.code).toBe(0);
  });

  it('--netns keeps only the connects made in that network namespace', async () => {
    const ns = createNetns();
    try {
      const tool = await ToolRun.start(['--netns', `/run/netns/${ns.name}`, ...ATTACH]);
      const host = await connectFrom('tcpc-hostns', '127.0.0.1', ports.v4);
      // Refused in there (nothing listens), but the SYN went: a connect.
      const inside = await connectFrom('tcpc-inns', '127.0.0.1', ports.v4, { netns: ns.name });
      expect(inside.error).toBe('ECONNREFUSED');
      await tool.waitForRow((r) => r.startsWith(`${inside.pid} `));
      await tool.stop();
      const pids = tool.rows().map((r) => Number(r.split(' ')[0]));
      expect(pids).toEqual([inside.pid]);
      expect(host.error).toBeNull();
    } finally {
      ns.remove();
    }
  });

  it('tcpaccept -C names the cgroup of the task that accepted', async () => {
    const tool = await ToolRun.start(['-C', ...ATTACH], 1, ACCEPT_CLI);
    expect(tool.stdout.split('\n')[0]).toMatch(/ LPORT CONTAINER$/);
    const child = spawn(process.execPath, [ACCEPTOR, 'tcpa-in-docker', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const { pid, port } = await new Promise<{ pid: number; port: number }>((resolve) =>
      child.stdout!.once('data', (d) => resolve(JSON.parse(String(d).split('\n')[0]))),
    );
    fs.writeFileSync(path.join(dir(`${slice}/${LAYOUT.docker}`), 'cgroup.procs'), String(pid));
    await connectFrom('tcpa-client', '127.0.0.1', port);
    const row = await tool.waitForRow((r) => r.startsWith(`${pid} `));
    expect(row).toMatch(/ aaaaaaaaaaaa$/);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect((await tool.stop()).code).toBe(0);
  });

  it('-j gains cgroup_id, cgroup, container, mntns and netns, for connects and accepts', async () => {
    const rel = `${slice}/${LAYOUT.docker}`;
    const id = Number(fs.statSync(dir(rel), { bigint: true }).ino);
    const mntns = fs.statSync('/proc/self/ns/mnt').ino;
    const netns = fs.statSync('/proc/self/ns/net').ino;
    const tool = await ToolRun.start(['-j', ...ATTACH], 0);
    await tool.waitUntil(() => tool.stderr.includes(' tracing with '));
    const pid = await connectIn(rel, 'tcpc-json');
    const line = await tool.waitForRow((r) => r.includes(`"pid":${pid},`));
    expect(JSON.parse(line)).toMatchObject({
      event: 'connect',
      pid,
      cgroup_id: id,
      cgroup: `/${rel}`,
      container: 'aaaaaaaaaaaa',
      mntns,
      netns,
    });
    const mine = await connectFrom('tcpc-json-host', '127.0.0.1', ports.v4);
    const hostLine = JSON.parse(await tool.waitForRow((r) => r.includes(`"pid":${mine.pid},`)));
    expect(hostLine.container).toBeNull();
    expect(typeof hostLine.cgroup).toBe('string');
    await tool.stop();

    const accept = await ToolRun.start(['-j', ...ATTACH], 0, ACCEPT_CLI);
    await accept.waitUntil(() => accept.stderr.includes(' tracing with '));
    await connectFrom('tcpa-json', '127.0.0.1', ports.v4);
    const a = JSON.parse(await accept.waitForRow((r) => r.includes('"event":"accept"')));
    expect(Object.keys(a)).toEqual(expect.arrayContaining(['cgroup_id', 'cgroup', 'container', 'mntns', 'netns']));
    expect([a.mntns, a.netns]).toEqual([mntns, netns]);
    await accept.stop();
  });

  it.each([
    [['--cgroup', ''], /argument --cgroup: an empty path is no cgroup/],
    [['--cgroup', '/nonexistent-tcpc'], /argument --cgroup: \/nonexistent-tcpc: no such directory/],
    [['--cgroup', '/etc/hostname'], /argument --cgroup: \/etc\/hostname: not a directory/],
    [['--cgroup', '/tmp'], /argument --cgroup: \/tmp: not a cgroup v2 directory \(cgroup2 is mounted at /],
    [['--netns', ''], /argument --netns: an empty path is no namespace/],
    [['--netns', '/etc/hostname'], /argument --netns: \/etc\/hostname: not a namespace file/],
    [
      ['--netns', '/proc/self/ns/mnt'],
      /argument --netns: \/proc\/self\/ns\/mnt: a mnt namespace, not a network namespace/,
    ],
  ])('refuses %j with a usage error (exit 2), before anything loads', (args, message) => {
    for (const cli of [CLI, ACCEPT_CLI]) {
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 10000 * SLOW });
      expect([r.status, r.stdout]).toEqual([2, '']);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[lines.length - 1]).toMatch(message);
    }
  });

  it('refuses more --cgroup directories than the kernel side holds, with a usage error', () => {
    const many = Array.from({ length: 9 }, () => ['--cgroup', dir(slice)]).flat();
    const r = spawnSync(process.execPath, [CLI, ...many], { encoding: 'utf8', timeout: 10000 * SLOW });
    expect([r.status, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/tcpconnect: error: argument --cgroup: at most 8 may be given\n$/);
    expect(execFileSync('bpftool', ['prog', 'show'], { encoding: 'utf8' })).not.toMatch(/tcpc_/);
  });
});
