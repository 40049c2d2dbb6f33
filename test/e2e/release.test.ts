// SPDX-License-Identifier: Apache-2.0
//
// What an installed release (TCPCONNECT_TEST_INSTALLED, scripts/install-test.sh)
// or this checkout's build says of itself: its version, and, when a
// library the addon links is missing, which one, in one line.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { expect, it } from 'vitest';

import { SLOW } from '../slow.js';
import { ACCEPT_CLI, CLI, describeE2E } from './harness.js';

const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

describeE2E('a release', () => {
  it.each([
    ['tcpconnect', CLI],
    ['tcpaccept', ACCEPT_CLI],
  ])('%s --version and -V print the version and exit 0', (name, cli) => {
    for (const flag of ['--version', '-V']) {
      const r = spawnSync(process.execPath, [cli, flag], { encoding: 'utf8', timeout: 10000 * SLOW });
      expect([r.status, r.stdout, r.stderr]).toEqual([0, `${name} ${VERSION}\n`, '']);
    }
  });

  it('names the shared library that is missing, and its package, in one line', () => {
    // libbpf.so.1 replaced, in a mount namespace of the test's own, by an empty file.
    const libbpf = execFileSync('sh', ['-c', 'ldconfig -p | sed -n "s/.*libbpf.so.1 .*=> //p" | head -n 1'], {
      encoding: 'utf8',
    }).trim();
    expect(libbpf).not.toBe('');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tcpc-nolib-'));
    try {
      writeFileSync(path.join(dir, 'empty'), '');
      const r = spawnSync(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          'mount --bind "$1" "$2" && exec "$3" "$4"',
          'sh',
          path.join(dir, 'empty'),
          libbpf,
          process.execPath,
          CLI,
        ],
        { encoding: 'utf8', timeout: 10000 * SLOW },
      );
      expect([r.status, r.stdout]).toEqual([1, '']);
      expect(r.stderr).toMatch(
        /^tcpconnect: cannot load libbpf\.so\.1 \([^\n]+\), which the native module needs; install libbpf1\n$/,
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
