// SPDX-License-Identifier: Apache-2.0
//
// Containers and services, by the cgroup v2 directory a task is in: where
// cgroup2 is mounted, --cgroup's and --netns's paths checked, and a
// record's cgroup id named (-C's CONTAINER, -j's cgroup and container)
// from a walk of the mount, cached and bounded.

import fs from 'node:fs';
import path from 'node:path';

import { UsageError } from './errors.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const NSFS_MAGIC = 0x6e736673;

/**
 * Where cgroup v2 is mounted: /sys/fs/cgroup on a unified hierarchy,
 * /sys/fs/cgroup/unified on a hybrid one; null if nowhere. From mountinfo,
 * whose fifth field is the mount point (octal escapes for spaces and the
 * like) and whose type follows the " - ".
 */
export function cgroup2Mount(mountinfo?: string): string | null {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return null;
    }
  }
  for (const line of text.split('\n')) {
    const [mount, type] = line.split(' - ');
    const fields = mount?.split(' ');
    if (type?.startsWith('cgroup2 ') && fields?.[3] === '/')
      return fields[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(Number.parseInt(o, 8)));
  }
  return null;
}

/**
 * The root of the whole cgroup v2 hierarchy, where a program attached sees
 * every socket; null if cgroup2 is not mounted, or only a cgroup
 * namespace's subtree is (the root cgroup's directory is inode 1).
 */
export function cgroup2Root(): string | null {
  const mount = cgroup2Mount();
  try {
    return mount !== null && fs.statSync(mount).ino === 1 ? mount : null;
  } catch {
    return null;
  }
}

/** A path option's value that exists: its stat, or a usage error naming the flag (an empty path never names a filter). */
function pathArgument(flag: string, value: string, give: string, missing: string): fs.Stats {
  if (value === '') throw new UsageError(`argument ${flag}: an empty path is no ${give}`);
  try {
    return fs.statSync(value);
  } catch {
    throw new UsageError(`argument ${flag}: ${value}: ${missing}`);
  }
}

/** --cgroup PATH: a directory on a cgroup v2 mount, or a usage error. */
export function parseCgroupDir(dir: string): string {
  const st = pathArgument('--cgroup', dir, 'cgroup; give a cgroup v2 directory', 'no such directory');
  if (!st.isDirectory()) throw new UsageError(`argument --cgroup: ${dir}: not a directory`);
  if (fs.statfsSync(dir).type !== CGROUP2_SUPER_MAGIC) {
    const mount = cgroup2Mount();
    const where = mount ? `cgroup2 is mounted at ${mount}` : 'no cgroup2 is mounted';
    throw new UsageError(`argument --cgroup: ${dir}: not a cgroup v2 directory (${where})`);
  }
  return dir;
}

/**
 * --netns PATH: a namespace file (/run/netns/NAME, /proc/PID/ns/net), or a
 * usage error. That it is a network namespace takes the addon to ask
 * (netnsInode).
 */
export function parseNetns(file: string): string {
  const st = pathArgument('--netns', file, 'namespace; give /run/netns/NAME or /proc/PID/ns/net', 'no such file');
  if (st.isDirectory() || fs.statfsSync(file).type !== NSFS_MAGIC)
    throw new UsageError(`argument --netns: ${file}: not a namespace file`);
  return file;
}

/** The inode of the network namespace at file (checked by parseNetns), as the kernel side compares it; a usage error if it is another kind. */
export function netnsInode(file: string, namespaceType: (path: string) => string | null): number {
  const kind = namespaceType(file);
  if (kind !== 'net')
    throw new UsageError(`argument --netns: ${file}: a ${kind ?? 'non'} namespace, not a network namespace`);
  return fs.statSync(file).ino;
}

// The runtimes' names for a container's cgroup: docker-<id>.scope and
// /docker/<id> (Docker, systemd or cgroupfs driver), cri-containerd-<id>.scope,
// crio-<id>.scope, libpod-<id>.scope, and a bare <id> under kubepods.
const CONTAINER_ID = /^(?:(?:docker|cri-containerd|crio|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;
const UNIT = /\.(?:service|scope)$/;

/** The 12-hex container id a cgroup path names (its deepest), or null. */
export function containerId(cgroupPath: string): string | null {
  const parts = cgroupPath.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const m = CONTAINER_ID.exec(parts[i]);
    if (m) return m[1].slice(0, 12);
  }
  return null;
}

/** -C's CONTAINER: the container id, else the systemd unit (the deepest .service or .scope), else the path. */
export function containerLabel(cgroupPath: string): string {
  const id = containerId(cgroupPath);
  if (id) return id;
  const unit = cgroupPath
    .split('/')
    .reverse()
    .find((p) => UNIT.test(p));
  return unit ?? cgroupPath;
}

/** Directories one walk of the mount reads at most: a host has hundreds; a bound against a hostile tree. */
export const MAX_CGROUP_DIRS = 65536;
/** An id not seen yet walks the mount again, at most this often. */
const REWALK_MS = 1000;

/** cgroup v2 ids to their paths below the mount ('/' at its root), as the directories' inode numbers name them. */
export class CgroupNames {
  private readonly paths = new Map<bigint, string>();
  private walked = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly mount: string | null = cgroup2Mount(),
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a path can ever be found: false with no cgroup2 mounted, when every id stays unnamed. */
  get resolvable(): boolean {
    return this.mount !== null;
  }

  /** The path of cgroup `id`, or null when the mount has no such directory (any more). */
  path(id: bigint): string | null {
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    if (this.mount === null || this.now() - this.walked < REWALK_MS) return null;
    this.walk(this.mount);
    return this.paths.get(id) ?? null;
  }

  // Breadth first, up to MAX_CGROUP_DIRS; a directory that vanishes on the
  // way is skipped. Ids already known stay (a cgroup removed after its
  // task connected still names that row), unless the map would outgrow
  // the bound: then it holds this walk's only.
  private walk(mount: string): void {
    this.walked = this.now();
    const found = new Map<bigint, string>();
    const queue: string[] = ['/'];
    while (queue.length && found.size < MAX_CGROUP_DIRS) {
      const rel = queue.shift()!;
      const dir = path.join(mount, rel);
      try {
        found.set(fs.statSync(dir, { bigint: true }).ino, rel);
        for (const e of fs.readdirSync(dir, { withFileTypes: true }))
          if (e.isDirectory()) queue.push(path.posix.join(rel, e.name));
      } catch {
        // gone since its parent was read
      }
    }
    if (this.paths.size + found.size > MAX_CGROUP_DIRS) this.paths.clear();
    for (const [id, rel] of found) this.paths.set(id, rel);
  }
}
