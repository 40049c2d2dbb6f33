// SPDX-License-Identifier: Apache-2.0
//
// Cgroup paths named as -C and -j name them, the cgroup2 mount found in
// mountinfo, and the id -> path cache walked on a directory tree of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { CgroupNames, cgroup2Mount, containerId, containerLabel } from '../src/cgroups.js';
import { whoText } from '../src/identity.js';

const hex = (c: string) => c.repeat(64);

describe('containerLabel', () => {
  it.each([
    [`/system.slice/docker-${hex('a')}.scope`, 'aaaaaaaaaaaa'],
    [`/docker/${hex('b')}`, 'bbbbbbbbbbbb'],
    [`/kubepods.slice/kubepods-pod1.slice/cri-containerd-${hex('c')}.scope`, 'cccccccccccc'],
    [`/kubepods/burstable/pod1/${hex('d')}`, 'dddddddddddd'],
    [`/machine.slice/libpod-${hex('e')}.scope/container`, 'eeeeeeeeeeee'],
    [`/kubepods.slice/crio-${hex('f')}.scope`, 'ffffffffffff'],
    ['/system.slice/nginx.service', 'nginx.service'],
    ['/user.slice/user-0.slice/session-4.scope', 'session-4.scope'],
    ['/system.slice/foo.service/sub', 'foo.service'],
    ['/some/group', '/some/group'],
    ['/', '/'],
    // Not an id: 63 hex digits, a conmon scope, capitals.
    [`/docker/${hex('a').slice(1)}`, `/docker/${hex('a').slice(1)}`],
    [`/machine.slice/crio-conmon-${hex('a')}.scope`, `crio-conmon-${hex('a')}.scope`],
    [`/docker/${hex('A')}`, `/docker/${hex('A')}`],
  ])('%s -> %s', (p, label) => {
    expect(containerLabel(p)).toBe(label);
  });

  it('gives no container id for a unit or a plain path', () => {
    expect(containerId('/system.slice/nginx.service')).toBeNull();
    expect(containerId('/')).toBeNull();
  });
});

describe('cgroup2Mount', () => {
  it('finds cgroup2 on a hybrid hierarchy, and on a unified one, and unescapes the path', () => {
    const hybrid =
      '25 30 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n' +
      '26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
    expect(cgroup2Mount(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2Mount('31 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n')).toBe('/sys/fs/cgroup');
    expect(cgroup2Mount('31 1 0:26 / /mnt/my\\040cg rw - cgroup2 none rw\n')).toBe('/mnt/my cg');
    // A bind mount of a sub-tree is not the hierarchy's root.
    expect(cgroup2Mount('31 1 0:26 /sub /mnt/sub rw - cgroup2 none rw\n')).toBeNull();
    expect(cgroup2Mount('')).toBeNull();
  });
});

describe('CgroupNames', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
  });
  const tree = (...dirs: string[]) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpc-cg-'));
    roots.push(root);
    for (const d of dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
    return root;
  };
  const ino = (p: string) => fs.statSync(p, { bigint: true }).ino;

  it('names an id by its directory below the mount, and keeps the name once the directory is gone', () => {
    const root = tree('a/b.service', 'c');
    let now = 0;
    const names = new CgroupNames(root, () => now);
    const id = ino(path.join(root, 'a/b.service'));
    expect(names.path(id)).toBe('/a/b.service');
    expect(names.path(ino(root))).toBe('/');
    fs.rmdirSync(path.join(root, 'a/b.service'));
    now += 5000;
    expect(names.path(id)).toBe('/a/b.service');
  });

  it('walks again for an id it does not know, at most once a second', () => {
    const root = tree('a');
    let now = 0;
    const names = new CgroupNames(root, () => now);
    expect(names.path(123456789n)).toBeNull(); // walks
    fs.mkdirSync(path.join(root, 'later'));
    const later = ino(path.join(root, 'later'));
    now += 500;
    expect(names.path(later)).toBeNull(); // too soon to walk again
    now += 600;
    expect(names.path(later)).toBe('/later');
  });

  it('names an id no directory has cgroup:<id> under -C, null under -j, and asks again for it later', () => {
    const root = tree('x');
    expect(whoText(false, new CgroupNames(root))(987654321n)).toEqual(['cgroup:987654321', false]);
    expect(whoText(true, new CgroupNames(root))(987654321n)).toEqual([
      ',"cgroup_id":987654321,"cgroup":null,"container":null',
      false,
    ]);
    // With no cgroup2 mounted no name can turn up: the answer is kept, not asked for every row.
    expect(whoText(false, new CgroupNames(null))(987654321n)).toEqual(['cgroup:987654321', true]);
    const id = ino(path.join(root, 'x'));
    expect(whoText(true, new CgroupNames(root))(id)).toEqual([
      `,"cgroup_id":${id},"cgroup":"/x","container":null`,
      true,
    ]);
  });

  it('escapes control bytes a delegated user put in a directory name', () => {
    const root = tree('evil\n123 sshd');
    const id = ino(path.join(root, 'evil\n123 sshd'));
    expect(whoText(false, new CgroupNames(root))(id)).toEqual(['/evil\\x0a123 sshd', true]);
    expect(whoText(true, new CgroupNames(root))(id)[0]).toContain('"cgroup":"/evil\\n123 sshd"');
  });
});
