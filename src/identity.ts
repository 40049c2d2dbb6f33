// SPDX-License-Identifier: Apache-2.0
//
// Who made each connect (or accept) of a batch, by container and service:
// -C's CONTAINER text, or -j's keys (cgroup_id, cgroup, container, mntns,
// netns), one per connect record in batch order, as the RowWriter takes
// its suffixes. The kernel took the ids when it happened; the names come
// from src/cgroups.ts, once per cgroup.

import { CgroupNames, containerId, containerLabel, MAX_CGROUP_DIRS } from './cgroups.js';
import type { NativeRecords } from './native.js';
import { forEachRecord } from './records.js';
import { jsonText, printable, rowBytes } from './text.js';

export function identityTexts(
  records: NativeRecords,
  json: boolean,
  names = new CgroupNames(),
): (batch: Buffer) => string[] {
  const e = records.event.offsets;
  // Each resolved cgroup's text, made once: a row then costs a lookup.
  const made = new Map<bigint, string>();
  const text = (id: bigint): string => {
    const known = made.get(id);
    if (known !== undefined) return known;
    const path = names.path(id);
    const t = json
      ? `,"cgroup_id":${id},"cgroup":${jsonText(path)},"container":${jsonText(path === null ? null : containerId(path))}`
      : printable(path === null ? `cgroup:${id}` : containerLabel(path));
    const bytes = rowBytes(t);
    if (path !== null && made.size < MAX_CGROUP_DIRS) made.set(id, bytes);
    return bytes;
  };
  return (batch) => {
    const texts: string[] = [];
    forEachRecord(batch, records, (kind, off) => {
      if (kind !== records.recordConnect) return;
      const t = text(batch.readBigUInt64LE(off + e.cgroup_id));
      texts.push(
        json ? `${t},"mntns":${batch.readUInt32LE(off + e.mntns)},"netns":${batch.readUInt32LE(off + e.netns)}` : t,
      );
    });
    return texts;
  };
}
