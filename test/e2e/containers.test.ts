// SPDX-License-Identifier: Apache-2.0
//
// --cgroupmap and --mntnsmap end to end: a real cgroup v2 directory and a
// real mount namespace made here, maps pinned with bpftool, and processes
// inside and outside them.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { cgroup2Mount } from '../../src/cgroups.js';

import {
  ACCEPT_CLI,
  ATTACH,
  armedConnector,
  bccRow,
  CLI,
  describeE2E,
  listeners,
  NOBODY,
  ourProgramsAfterExit,
  stopAll,
  ToolRun,
} from './harness.js';

const BPFFS = '/sys/fs/bpf';
/** A 4-byte map value (a --mntnsmap's), as bpftool takes it. */
const U32_ONE = ['hex', '01', '00', '00', '00'];
const tag = `tcpc-test-${process.pid}`;

function bpftool(...args: string[]): void {
  execFileSync('bpftool', args, { stdio: 'pipe' });
}

/** An 8-byte key as bpftool wants it: little-endian hex bytes. */
function keyHex(n: bigint): string[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return ['hex', ...[...b].map((x) => x.toString(16).padStart(2, '0'))];
}

function pinMap(name: string, keySize: number, valueSize: number, type = 'hash'): string {
  const p = path.join(BPFFS, `${tag}-${name}`);
  const sizes = ['key', String(keySize), 'value', String(valueSize), 'entries', '128'];
  bpftool('map', 'create', p, 'type', type, ...sizes, 'name', name.replace(/-/g, '_').slice(0, 15));
  return p;
}

describeE2E('--cgroupmap and --mntnsmap end to end', () => {
  let ports: Awaited<ReturnType<typeof listeners>>;
  let cgroupDir: string;
  let cgroupId: bigint;
  const pinned: string[] = [];
  beforeAll(async () => {
    if (!fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${BPFFS} bpf `))
      execFileSync('mount', ['-t', 'bpf', 'bpf', BPFFS]);
    ports = await listeners();
    cgroupDir = path.join(cgroup2Mount()!, tag);
    fs.mkdirSync(cgroupDir);
    cgroupId = fs.statSync(cgroupDir, { bigint: true }).ino; // the cgroup v2 id
  });
  afterAll(() => {
    ports?.close();
    for (const p of pinned) fs.rmSync(p, { force: true });
    if (cgroupDir) fs.rmdirSync(cgroupDir);
  });
  afterEach(stopAll);

  const pin = (...args: Parameters<typeof pinMap>) => {
    const p = pinMap(...args);
    pinned.push(p);
    return p;
  };
  const intoCgroup = (pid: number) => fs.writeFileSync(path.join(cgroupDir, 'cgroup.procs'), String(pid));
  const mntnsOf = (pid: number) => fs.statSync(`/proc/${pid}/ns/mnt`, { bigint: true }).ino;
  const row = (pid: number, comm: string) => bccRow(pid, comm, 4, '127.0.0.1', '127.0.0.1', ports.v4);

  it('with --cgroupmap traces the cgroups in the map only, and follows keys added and removed', async () => {
    const map = pin('cg', 8, 8);
    bpftool('map', 'update', 'pinned', map, 'key', ...keyHex(cgroupId), 'value', ...keyHex(1n));
    const tool = await ToolRun.start(['--cgroupmap', map, ...ATTACH]);

    const inside = await armedConnector('tcpc-cg-in', '127.0.0.1', ports.v4);
    intoCgroup(inside.pid);
    const outside = await armedConnector('tcpc-cg-out', '127.0.0.1', ports.v4);
    await outside.fire();
    await inside.fire();
    await tool.waitForRow((r) => r.includes('tcpc-cg-in'));

    // Removed mid-run: no row. Added back: rows again.
    bpftool('map', 'delete', 'pinned', map, 'key', ...keyHex(cgroupId));
    const removed = await armedConnector('tcpc-cg-gone', '127.0.0.1', ports.v4);
    intoCgroup(removed.pid);
    await removed.fire();
    bpftool('map', 'update', 'pinned', map, 'key', ...keyHex(cgroupId), 'value', ...keyHex(1n));
    const again = await armedConnector('tcpc-cg-back', '127.0.0.1', ports.v4);
    intoCgroup(again.pid);
    await again.fire();
    await tool.waitForRow((r) => r.includes('tcpc-cg-back'));
    await tool.stop();
    expect(tool.rows()).toEqual([row(inside.pid, 'tcpc-cg-in'), row(again.pid, 'tcpc-cg-back')]);
  });

  it('with --mntnsmap traces the mount namespaces in the map only', async () => {
    const map = pin('mnt', 8, 4);
    const inside = await armedConnector('tcpc-mnt-in', '127.0.0.1', ports.v4, ['unshare', '-m']);
    const outside = await armedConnector('tcpc-mnt-out', '127.0.0.1', ports.v4);
    expect(mntnsOf(inside.pid)).not.toBe(mntnsOf(outside.pid));
    bpftool('map', 'update', 'pinned', map, 'key', ...keyHex(mntnsOf(inside.pid)), 'value', ...U32_ONE);
    const tool = await ToolRun.start(['--mntnsmap', map, ...ATTACH]);
    await outside.fire();
    await inside.fire();
    await tool.waitForRow((r) => r.includes('tcpc-mnt-in'));
    await tool.stop();
    expect(tool.rows()).toEqual([row(inside.pid, 'tcpc-mnt-in')]);
  });

  it('with both maps a connect must pass both', async () => {
    const cg = pin('both-cg', 8, 8);
    const mnt = pin('both-mnt', 8, 4);
    bpftool('map', 'update', 'pinned', cg, 'key', ...keyHex(cgroupId), 'value', ...keyHex(1n));
    const both = await armedConnector('tcpc-both', '127.0.0.1', ports.v4, ['unshare', '-m']);
    const cgOnly = await armedConnector('tcpc-cg-only', '127.0.0.1', ports.v4);
    intoCgroup(both.pid);
    intoCgroup(cgOnly.pid);
    bpftool('map', 'update', 'pinned', mnt, 'key', ...keyHex(mntnsOf(both.pid)), 'value', ...U32_ONE);
    const tool = await ToolRun.start(['--cgroupmap', cg, '--mntnsmap', mnt, ...ATTACH]);
    await cgOnly.fire();
    await both.fire();
    await tool.waitForRow((r) => r.includes('tcpc-both'));
    await tool.stop();
    expect(tool.rows()).toEqual([row(both.pid, 'tcpc-both')]);
  });

  it.each([
    ['a path that does not exist', () => path.join(BPFFS, `${tag}-missing`), 'no such file'],
    [
      'a file not on a BPF filesystem',
      () => {
        const p = `/tmp/${tag}-not-bpffs`;
        fs.writeFileSync(p, '');
        pinned.push(p);
        return p;
      },
      'not on a BPF filesystem (pin the map under /sys/fs/bpf)',
    ],
  ])('refuses %s with a usage error (exit 2), loading nothing', async (_what, make, message) => {
    const p = make();
    for (const flag of ['--cgroupmap', '--mntnsmap']) {
      const r = spawnSync(process.execPath, [CLI, flag, p, ...ATTACH], { encoding: 'utf8', timeout: 10000 });
      expect([r.status, r.stdout]).toEqual([2, '']);
      expect(r.stderr.trimEnd().split('\n').pop()).toBe(`tcpconnect: error: argument ${flag}: ${p}: ${message}`);
    }
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it.each([
    ['an array map', () => pin('array', 4, 8, 'array'), 'an array map, not a hash map'],
    ['a hash map with 4-byte keys', () => pin('key4', 4, 8), 'keys of 4 bytes; it needs 8-byte keys'],
  ])('refuses %s with exit 1 and one line, loading nothing', async (_what, make, message) => {
    const p = make();
    for (const flag of ['--cgroupmap', '--mntnsmap']) {
      const r = spawnSync(process.execPath, [CLI, flag, p, ...ATTACH], { encoding: 'utf8', timeout: 10000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `tcpconnect: ${flag} ${p}: ${message}${message.endsWith('keys') ? ` (${flag === '--cgroupmap' ? 'cgroup v2 ids' : 'mount namespace ids'})` : ''}\n`,
      );
    }
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it('refuses an empty map path with exit 2, rather than trace every container', async () => {
    for (const cli of [CLI, ACCEPT_CLI])
      for (const argv of [['--cgroupmap', ''], ['--cgroupmap='], ['--mntnsmap', ''], ['--mntnsmap=']]) {
        const r = spawnSync(process.execPath, [cli, ...argv, ...ATTACH], { encoding: 'utf8', timeout: 10000 });
        expect([r.status, r.stdout, r.stderr.trim().split('\n').pop()]).toEqual([
          2,
          '',
          `${cli === CLI ? 'tcpconnect' : 'tcpaccept'}: error: argument ${argv[0].replace('=', '')}: empty path (a filter must name its pinned map)`,
        ]);
      }
    expect(await ourProgramsAfterExit()).toEqual([]);
  });

  it('refuses a map reached through a symlink that a user other than root owns', async () => {
    const map = pin('linked', 8, 8);
    const link = `/tmp/${tag}-link`;
    fs.rmSync(link, { force: true });
    fs.symlinkSync(map, link);
    pinned.push(link);
    const run = () =>
      spawnSync(process.execPath, [CLI, '--cgroupmap', link, ...ATTACH], { encoding: 'utf8', timeout: 10000 });
    fs.lchownSync(link, NOBODY, NOBODY);
    const refused = run();
    expect([refused.status, refused.stderr.trimEnd().split('\n').pop()]).toEqual([
      2,
      `tcpconnect: error: argument --cgroupmap: ${link}: ${link} is a symlink owned by a user other than root`,
    ]);
    fs.lchownSync(link, 0, 0); // root's own link is followed
    const tool = await ToolRun.start(['--cgroupmap', link, ...ATTACH]);
    expect((await tool.stop()).code).toBe(0);
    expect(await ourProgramsAfterExit()).toEqual([]);
  });
});
