// SPDX-License-Identifier: Apache-2.0
//
// deploy/: what runs tcpconnect on many hosts. The DaemonSet's security
// fields, the unit's capabilities (the same ones), and the container build
// file's use of the README's own set-up and release commands. (.ci/run has systemd
// verify the unit.)
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const file = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
const CAPS = ['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_RESOURCE', 'SYS_ADMIN'];

describe('deploy/daemonset.yaml', () => {
  const ds = parse(file('deploy/daemonset.yaml'));
  const pod = ds.spec.template.spec;
  const [container] = pod.containers;

  it('is a DaemonSet on every node, in the host PID namespace, printing JSON lines', () => {
    expect([ds.apiVersion, ds.kind]).toEqual(['apps/v1', 'DaemonSet']);
    expect(ds.spec.selector.matchLabels).toEqual(ds.spec.template.metadata.labels);
    expect(pod.hostPID).toBe(true);
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(container.args).toEqual(['--json']);
  });

  it('is not privileged: root with the BPF capabilities only, no escalation, a read-only root', () => {
    const sc = container.securityContext;
    expect([sc.runAsUser, sc.privileged, sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem]).toEqual([
      0,
      false,
      false,
      true,
    ]);
    expect(sc.capabilities).toEqual({ drop: ['ALL'], add: CAPS });
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('mounts BTF, bpffs and the cgroup tree from the host, read-only', () => {
    const paths = Object.fromEntries(
      pod.volumes.map((v: { name: string; hostPath: { path: string } }) => [v.name, v.hostPath.path]),
    );
    const mounts = container.volumeMounts.map((m: { name: string; mountPath: string; readOnly: boolean }) => [
      paths[m.name],
      m.mountPath,
      m.readOnly,
    ]);
    expect(mounts).toEqual([
      ['/sys/kernel/btf', '/sys/kernel/btf', true],
      ['/sys/fs/bpf', '/sys/fs/bpf', true],
      ['/sys/fs/cgroup', '/sys/fs/cgroup', true],
    ]);
  });
});

describe('deploy/tcpconnect.service', () => {
  const unit = file('deploy/tcpconnect.service');
  const value = (key: string) => unit.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1];

  it('runs tcpconnect --json, restarts on failure, logs to the journal', () => {
    expect(value('ExecStart')).toMatch(/\/tcpconnect --json$/);
    expect([value('Restart'), value('StandardOutput'), value('NoNewPrivileges')]).toEqual([
      'on-failure',
      'journal',
      'yes',
    ]);
  });

  it("bounds its capabilities to the DaemonSet's", () => {
    expect(value('CapabilityBoundingSet')?.split(' ')).toEqual(CAPS.map((c) => `CAP_${c}`));
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = file('deploy/Dockerfile');

  it("builds the release with the README's own commands, and installs only that tarball to run", () => {
    const readme = file('README.md');
    const setup = readme.match(/```sh\n(\S+) && tcpconnect\n```/)?.[1];
    expect(setup).toBe('scripts/setup.sh');
    const release = readme.match(/```sh\n(npm run release)\n/)?.[1];
    expect(release).toBe('npm run release');
    const install = readme.match(/```sh\n(npm install -g --offline) \.\/tcpconnect-\S+\.tgz\n/)?.[1];
    expect(install).toBe('npm install -g --offline');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(new RegExp(`^RUN ${setup}$`, 'm'));
    expect(stages[0]).toMatch(new RegExp(`^RUN ${release}$`, 'm'));
    expect(stages[1]).not.toMatch(/clang|g\+\+|gcc|make|libbpf-dev|setup\.sh|node-gyp/);
    expect(stages[1]).toMatch(/libbpf1 libelf1 zlib1g/);
    expect(stages[1]).toMatch(new RegExp(`^RUN ${install} .*/tcpconnect-\\*\\.tgz`, 'm'));
    expect(stages[1]).toMatch(/ENTRYPOINT \["tcpconnect"\]\nCMD \["--json"\]/);
  });
});
