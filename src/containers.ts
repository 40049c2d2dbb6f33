// SPDX-License-Identifier: Apache-2.0
//
// The container filters, all in the kernel. --cgroup and --netns: the
// directories (checked by src/cgroups.ts) go into a cgroup array, the
// namespaces' inodes into rodata. --cgroupmap and --mntnsmap: the user
// pins a BPF hash map whose keys are the cgroup v2 ids (or mount namespace
// ids) to trace; the kernel side looks each connect's task up in it.
// Opened once and checked here, before anything loads, with a message that
// says what is wrong; the fd checked is the map the programs use.

import fs from 'node:fs';
import path from 'node:path';

import { u32 } from './attach.js';
import { netnsInode } from './cgroups.js';
import { bpfErrorData, FatalError, UsageError } from './errors.js';
import type { NativeBinding } from './native.js';

const BPF_FS_MAGIC = 0xcafe4a11;
const BPF_MAP_TYPE_HASH = 1;
const MAP_TYPES = [
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
];

interface FilterMap {
  flag: '--cgroupmap' | '--mntnsmap';
  path: string;
  /** what its keys are, for the message */
  keys: string;
}

/**
 * A symlink on the way to the map that a user other than root owns would
 * let that user point the filter elsewhere (at a map of their own, say).
 */
function untrustedLink(file: string): string | undefined {
  let at = path.resolve(file);
  for (let hops = 0; hops < 40 && at !== path.dirname(at); hops++, at = path.dirname(at)) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch {
      continue; // not there: the open says so
    }
    if (st.isSymbolicLink() && st.uid !== 0) return at;
  }
  return undefined;
}

/**
 * Opens the pinned map once, checks what that fd is, and returns it. A path
 * that leads to no pinned map is a usage error (a filter must not fail
 * open); a pinned map of the wrong kind stops the run (exit 1).
 */
function openFilterMap(tool: string, native: NativeBinding, map: FilterMap): number {
  const where = `${tool}: ${map.flag} ${map.path}`;
  const unusable = (why: string): never => {
    throw new UsageError(`argument ${map.flag}: ${map.path}: ${why}`);
  };
  const link = untrustedLink(map.path);
  if (link) unusable(`${link} is a symlink owned by a user other than root`);
  let st: fs.StatsFs;
  try {
    st = fs.statfsSync(map.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return unusable(code === 'ENOENT' ? 'no such file' : String(err));
  }
  if (st.type !== BPF_FS_MAGIC) unusable('not on a BPF filesystem (pin the map under /sys/fs/bpf)');
  let opened: ReturnType<NativeBinding['openPinnedMap']>;
  try {
    opened = native.openPinnedMap(map.path);
  } catch (err) {
    return unusable(bpfErrorData(err).message);
  }
  const refuse = (why: string): never => {
    fs.closeSync(opened.fd);
    throw new FatalError(`${where}: ${why}`);
  };
  if (!opened.isMap) {
    fs.closeSync(opened.fd);
    unusable('not a BPF map');
  }
  if (opened.type !== BPF_MAP_TYPE_HASH) {
    const kind = MAP_TYPES[opened.type!] ?? `type ${opened.type}`;
    refuse(`${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} map, not a hash map`);
  }
  if (opened.keySize !== 8) refuse(`keys of ${opened.keySize} bytes; it needs 8-byte keys (${map.keys})`);
  return opened.fd;
}

export interface ContainerFilters {
  rodata: Record<string, Buffer>;
  /** the maps to use in place of the object's own: fds of the checked pinned maps */
  reuseMaps: Record<string, number>;
  /** --cgroup's directory fds, for cgroup_dirs once the object is loaded */
  mapUpdates: Array<{ map: string; key: Buffer; value: Buffer }>;
  /** closes those fds (the loaded object holds its own) */
  close(): void;
}

/** What an attach plan takes of the filters. */
export type ContainerPlan = Pick<ContainerFilters, 'rodata' | 'reuseMaps' | 'mapUpdates'>;

/** No container filter: what an attach plan holds when it is made without any (tests). */
export const NO_CONTAINER_FILTERS: ContainerPlan = {
  rodata: {},
  reuseMaps: {},
  mapUpdates: [],
};

/**
 * Opens and checks --cgroupmap/--mntnsmap, opens --cgroup's directories,
 * and returns the rodata switches, the maps to reuse and the entries to write.
 */
export function containerFilters(
  tool: string,
  native: NativeBinding,
  opts: { cgroupmap?: string; mntnsmap?: string; cgroups?: string[]; netns?: string[] },
): ContainerFilters {
  const { maxCgroupFilters, maxNetnsFilters } = native.records;
  const cgroups = opts.cgroups ?? [];
  const netns = (opts.netns ?? []).map((file) => netnsInode(file, native.namespaceType));
  if (cgroups.length > maxCgroupFilters)
    throw new UsageError(`argument --cgroup: at most ${maxCgroupFilters} may be given`);
  if (netns.length > maxNetnsFilters) throw new UsageError(`argument --netns: at most ${maxNetnsFilters} may be given`);
  const reuseMaps: Record<string, number> = {};
  const dirs: number[] = [];
  const close = () => {
    for (const fd of [...Object.values(reuseMaps), ...dirs]) fs.closeSync(fd);
  };
  try {
    if (opts.cgroupmap !== undefined)
      reuseMaps.cgroup_filter = openFilterMap(tool, native, {
        flag: '--cgroupmap',
        path: opts.cgroupmap,
        keys: 'cgroup v2 ids',
      });
    if (opts.mntnsmap !== undefined)
      reuseMaps.mntns_filter = openFilterMap(tool, native, {
        flag: '--mntnsmap',
        path: opts.mntnsmap,
        keys: 'mount namespace ids',
      });
    for (const dir of cgroups) dirs.push(fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
  } catch (err) {
    close();
    if (err instanceof FatalError || err instanceof UsageError) throw err;
    throw new FatalError(`${tool}: ${String(err)}`);
  }
  const netnsBytes = Buffer.alloc(4 * maxNetnsFilters);
  for (const [i, inode] of netns.entries()) netnsBytes.writeUInt32LE(inode, 4 * i);
  return {
    rodata: {
      filter_cgroup: Buffer.from([opts.cgroupmap !== undefined ? 1 : 0]),
      filter_mntns: Buffer.from([opts.mntnsmap !== undefined ? 1 : 0]),
      filter_cgroups: u32(dirs.length),
      filter_netns_count: u32(netns.length),
      filter_netns: netnsBytes,
    },
    reuseMaps,
    mapUpdates: dirs.map((fd, i) => ({ map: 'cgroup_dirs', key: u32(i), value: u32(fd) })),
    close,
  };
}
