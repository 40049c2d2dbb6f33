// SPDX-License-Identifier: Apache-2.0
//
// Who made a connect (or accept), by container and service: the RowWriter's
// 'who' field for a cgroup id the kernel took when it happened. -C's
// CONTAINER text, or -j's keys (cgroup_id, cgroup, container). The addon
// asks once per cgroup and keeps the answer, so a row costs a lookup in C;
// a name src/cgroups.ts cannot find yet (cgroup:ID, "cgroup":null) is asked
// again next time, unless no cgroup2 is mounted to find it in.

import { CgroupNames, containerId, containerLabel } from './cgroups.js';
import { jsonText, printable, rowBytes } from './text.js';

export function whoText(json: boolean, names = new CgroupNames()): (cgroupId: bigint) => [string, boolean] {
  return (id) => {
    const path = names.path(id);
    const text = json
      ? `,"cgroup_id":${id},"cgroup":${jsonText(path)},"container":${jsonText(path === null ? null : containerId(path))}`
      : printable(path === null ? `cgroup:${id}` : containerLabel(path));
    return [rowBytes(text), path !== null || !names.resolvable];
  };
}

/** Whether records carry who made them, and rows say it: -C, and -j (every key always there). */
export const identityWanted = (opts: { json?: boolean; container?: boolean }): boolean =>
  Boolean(opts.json || opts.container);

/** The RowWriter's who() for these options, or undefined when no row says who. */
export const whoFor = (opts: { json: boolean; container: boolean }): ReturnType<typeof whoText> | undefined =>
  identityWanted(opts) ? whoText(opts.json) : undefined;
