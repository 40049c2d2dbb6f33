// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { acceptHeader } from '../src/format.js';
import { HELP, parseArgs } from '../src/tcpaccept.js';

// bcc's tcpaccept (test/fixtures/tcpaccept-behaviour.md §2).
const HEADER = 'PID     COMM         IP RADDR            RPORT LADDR            LPORT';

describe('tcpaccept output', () => {
  it('has the header the fixture gives for bcc', () => {
    expect(readFileSync(new URL('./fixtures/tcpaccept-behaviour.md', import.meta.url), 'utf8')).toContain(
      `\`${HEADER}\``,
    );
  });

  it('has bcc header in each mode, TIME first', () => {
    expect(acceptHeader({ time: false, timestamp: false })).toBe(HEADER);
    expect(acceptHeader({ time: true, timestamp: false })).toBe(`TIME     ${HEADER}`);
    expect(acceptHeader({ time: false, timestamp: true })).toBe(`TIME(s)  ${HEADER}`);
    expect(acceptHeader({ time: true, timestamp: true })).toBe(`TIME     TIME(s)  ${HEADER}`);
  });
});

describe('tcpaccept flags', () => {
  it('are bcc flags, with its help text', () => {
    expect(HELP).toContain('usage: tcpaccept [-h] [-T] [-t] [-p PID] [-P PORT] [-4 | -6]\n');
    expect(HELP).toContain('  -T, --time            include time column on output (HH:MM:SS)\n');
    expect(HELP).toContain('  -P PORT, --port PORT  comma-separated list of local ports to trace\n');
    expect(HELP).toContain('    ./tcpaccept -4        # trace IPv4 family\n');
    const p = parseArgs(['-T', '-t', '-p', '181', '-P', '80,81', '-6', '--cgroupmap', '/m']);
    expect(p).toEqual({
      kind: 'run',
      options: {
        json: false,
        time: true,
        timestamp: true,
        pid: 181,
        ports: [80, 81],
        family: 6,
        cgroupmap: '/m',
        mntnsmap: undefined,
        cgroups: [],
        netns: [],
        container: false,
        attach: 'auto',
      },
    });
  });

  it.each([
    [['-L'], 'unrecognized arguments: -L'],
    [['-p', 'x'], "argument -p/--pid: invalid PID 'x'"],
    [['-6', '-4'], 'argument -4/--ipv4: not allowed with argument -6/--ipv6'],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseArgs(argv)).toThrow(msg);
  });
});
