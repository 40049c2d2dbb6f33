// SPDX-License-Identifier: Apache-2.0
//
// --cgroupmap and --mntnsmap: the user pins a BPF hash map whose keys are
// the cgroup v2 ids (or mount namespace ids) to trace; the kernel side
// looks each connect's task up in it. Checked here, before anything loads,
// with a message that says what is wrong.

import fs from 'node:fs';

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

function checkFilterMap(tool: string, native: NativeBinding, map: FilterMap): void {
  const where = `${tool}: ${map.flag} ${map.path}`;
  let st: fs.StatsFs;
  try {
    st = fs.statfsSync(map.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FatalError(code === 'ENOENT' ? `${where}: no such file` : `${where}: ${String(err)}`);
  }
  if (st.type !== BPF_FS_MAGIC)
    throw new FatalError(`${where}: not on a BPF filesystem (pin the map under /sys/fs/bpf)`);
  let info: ReturnType<NativeBinding['pinnedMapInfo']>;
  try {
    info = native.pinnedMapInfo(map.path);
  } catch (err) {
    throw new FatalError(`${where}: ${bpfErrorData(err).message}`);
  }
  if (!info.isMap) throw new FatalError(`${where}: not a BPF map`);
  if (info.type !== BPF_MAP_TYPE_HASH) {
    const kind = MAP_TYPES[info.type!] ?? `type ${info.type}`;
    throw new FatalError(`${where}: ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} map, not a hash map`);
  }
  if (info.keySize !== 8)
    throw new FatalError(`${where}: keys of ${info.keySize} bytes; it needs 8-byte keys (${map.keys})`);
}

/** Checks --cgroupmap/--mntnsmap and returns their rodata switches and the maps to reuse. */
export function containerFilters(
  tool: string,
  native: NativeBinding,
  opts: { cgroupmap?: string; mntnsmap?: string },
): { rodata: Record<string, Buffer>; reuseMaps: Record<string, string> } {
  const reuseMaps: Record<string, string> = {};
  if (opts.cgroupmap) {
    checkFilterMap(tool, native, { flag: '--cgroupmap', path: opts.cgroupmap, keys: 'cgroup v2 ids' });
    reuseMaps.cgroup_filter = opts.cgroupmap;
  }
  if (opts.mntnsmap) {
    checkFilterMap(tool, native, { flag: '--mntnsmap', path: opts.mntnsmap, keys: 'mount namespace ids' });
    reuseMaps.mntns_filter = opts.mntnsmap;
  }
  return {
    rodata: {
      filter_cgroup: Buffer.from([opts.cgroupmap ? 1 : 0]),
      filter_mntns: Buffer.from([opts.mntnsmap ? 1 : 0]),
    },
    reuseMaps,
  };
}
