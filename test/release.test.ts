// SPDX-License-Identifier: Apache-2.0
//
// What `npm pack` puts in the release tarball (package.json's `files`):
// what runs, what builds it where no prebuild fits, and nothing else.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

interface Packed {
  files: Array<{ path: string }>;
  bundled: string[];
}

const root = new URL('..', import.meta.url).pathname;
// scripts/release.sh makes prebuilds/; .ci/run runs it before the tests.
const released = existsSync(`${root}prebuilds`);
if (!released && process.env.CI !== 'true') console.warn('release test: no prebuilds/ (npm run release): not checked');

describe('the release tarball', () => {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
  ) as Packed[];
  const files = packed.files.map((f) => f.path);
  const ours = files.filter((f) => !f.startsWith('node_modules/'));

  it('holds the bundled tools, the man pages and what builds the addon where no prebuild fits', () => {
    for (const f of [
      'package.json',
      'README.md',
      'dist/bin/tcpconnect.js',
      'dist/bin/tcpaccept.js',
      'man/man8/tcpconnect.8',
      'man/man8/tcpaccept.8',
      'binding.gyp',
      'native/addon.cc',
      'bpf/tcpconnect.bpf.c',
      'bpf/records.h',
      'scripts/build-bpf.sh',
    ])
      expect(files).toContain(f);
    expect(packed.bundled.sort()).toEqual(['node-addon-api', 'node-gyp-build']);
  });

  it('holds no tests, TypeScript sources, benches, source maps or build trees', () => {
    const allowed =
      /^(package\.json|README\.md|binding\.gyp|scripts\/build-bpf\.sh|dist\/bin\/(chunks\/)?[\w-]+\.js|man\/man8\/\w+\.8|native\/\w+\.(cc|h)|bpf\/[\w.]+\.(c|h)|prebuilds\/linux-x64\/[\w.]+\.(node|bpf\.o))$/;
    expect(ours.filter((f) => !allowed.test(f))).toEqual([]);
  });

  it.runIf(released || process.env.CI === 'true')(
    'holds the prebuilt addon for linux-x64 and the CO-RE objects',
    () => {
      expect(ours.filter((f) => f.startsWith('prebuilds/')).sort()).toEqual([
        'prebuilds/linux-x64/tcpaccept.bpf.o',
        'prebuilds/linux-x64/tcpconnect.bpf.o',
        'prebuilds/linux-x64/tcpconnect.node',
      ]);
    },
  );
});
