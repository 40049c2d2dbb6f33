// SPDX-License-Identifier: Apache-2.0
//
// --cgroupmap and --mntnsmap: the user pins a BPF hash map whose keys are
// the cgroup v2 ids (or mount namespace ids) to trace; the kernel side
// looks each connect's task up in it. Opened once and checked here, before
// anything loads, with a message that says what is wrong; the fd checked is
// the map the programs use.

import fs from 'node:fs';
import path from 'node:path';

import { bpfErrorData, FatalError } from './errors.js';
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

/** Opens the pinned map once, checks what that fd is, and returns it. */
function openFilterMap(tool: string, native: NativeBinding, map: FilterMap): number {
  const where = `${tool}: ${map.flag} ${map.path}`;
  const link = untrustedLink(map.path);
  if (link) throw new FatalError(`${where}: ${link} is a symlink owned by a user other than root`);
  let st: fs.StatsFs;
  try {
    st = fs.statfsSync(map.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FatalError(code === 'ENOENT' ? `${where}: no such file` : `${where}: ${String(err)}`);
  }
  if (st.type !== BPF_FS_MAGIC)
    throw new FatalError(`${where}: not on a BPF filesystem (pin the map under /sys/fs/bpf)`);
  let opened: ReturnType<NativeBinding['openPinnedMap']>;
  try {
    opened = native.openPinnedMap(map.path);
  } catch (err) {
    throw new FatalError(`${where}: ${bpfErrorData(err).message}`);
  }
  const refuse = (why: string): never => {
    fs.closeSync(opened.fd);
    throw new FatalError(`${where}: ${why}`);
  };
  if (!opened.isMap) refuse('not a BPF map');
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
  /** closes those fds (the loaded object holds its own) */
  close(): void;
}

/** Opens and checks --cgroupmap/--mntnsmap, and returns their rodata switches and the maps to reuse. */
export function containerFilters(
  tool: string,
  native: NativeBinding,
  opts: { cgroupmap?: string; mntnsmap?: string },
): ContainerFilters {
  const reuseMaps: Record<string, number> = {};
  const close = () => {
    for (const fd of Object.values(reuseMaps)) fs.closeSync(fd);
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
  } catch (err) {
    close();
    throw err;
  }
  return {
    rodata: {
      filter_cgroup: Buffer.from([opts.cgroupmap !== undefined ? 1 : 0]),
      filter_mntns: Buffer.from([opts.mntnsmap !== undefined ? 1 : 0]),
    },
    reuseMaps,
    close,
  };
}
