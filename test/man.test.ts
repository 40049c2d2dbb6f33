// SPDX-License-Identifier: Apache-2.0
//
// The man page renders without warnings, has bcc's section set, and
// documents every flag the CLI accepts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';
import { OPTIONS as ACCEPT_OPTIONS } from '../src/tcpaccept.js';
import { OPTIONS } from '../src/tcpconnect.js';

const PAGES = [
  { name: 'tcpconnect', options: OPTIONS, fallback: 'sock:inet_sock_set_state' },
  { name: 'tcpaccept', options: ACCEPT_OPTIONS, fallback: 'syscalls:sys_exit_accept4' },
];
const SECTIONS = [
  'NAME',
  'SYNOPSIS',
  'DESCRIPTION',
  'REQUIREMENTS',
  'OPTIONS',
  'EXAMPLES',
  'FIELDS',
  'OVERHEAD',
  'SOURCE',
  'OS',
  'STABILITY',
  'SEE ALSO',
];

describe.each(PAGES)('man/man8/$name.8', ({ name, options, fallback }) => {
  const PAGE = new URL(`../man/man8/${name}.8`, import.meta.url).pathname;
  it('renders with groff without warnings', () => {
    const r = spawnSync('groff', ['-man', '-ww', '-Tutf8', PAGE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const text = r.stdout.replace(/.\x08/g, '');
    for (const s of SECTIONS) expect(text).toMatch(new RegExp(`^${s}$`, 'm'));
  });

  it('documents every option and the tracepoint fallback', () => {
    const src = readFileSync(PAGE, 'utf8').replace(/\\-/g, '-');
    for (const o of options) expect(src).toContain(o.short ?? o.long);
    expect(src).toContain(fallback);
  });

  it('is the page package.json installs', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.man).toContain(`man/man8/${name}.8`);
    expect(pkg.bin[name]).toBe(`dist/bin/${name}.js`);
  });
});
