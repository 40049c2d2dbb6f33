// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';

import type { ConnectEvent } from '../src/decode.js';
import { AcceptRowFormatter, acceptHeader, wallClock } from '../src/format.js';
import { HELP, parseArgs } from '../src/tcpaccept-cli.js';

// bcc's tcpaccept (shared/reference/tcpaccept-behaviour.md §2).
const HEADER = 'PID     COMM         IP RADDR            RPORT LADDR            LPORT';

const ev: ConnectEvent = {
  tsUs: 7_000_000,
  pid: 907,
  uid: 0,
  ip: 4,
  saddr: '192.168.56.102', // local
  daddr: '192.168.56.1', // remote
  lport: 22,
  dport: 32324,
  task: 'sshd',
};

describe('tcpaccept output', () => {
  it('has bcc header in each mode, TIME first', () => {
    expect(acceptHeader({ time: false, timestamp: false })).toBe(HEADER);
    expect(acceptHeader({ time: true, timestamp: false })).toBe(`TIME     ${HEADER}`);
    expect(acceptHeader({ time: false, timestamp: true })).toBe(`TIME(s)  ${HEADER}`);
    expect(acceptHeader({ time: true, timestamp: true })).toBe(`TIME     TIME(s)  ${HEADER}`);
  });

  it('has bcc row: remote before local, %-5d ports with their trailing spaces', () => {
    expect(new AcceptRowFormatter({ time: false, timestamp: false }).row(ev, new Date())).toBe(
      '907     sshd         4  192.168.56.1     32324 192.168.56.102   22   ',
    );
  });

  it('with -T -t prints HH:MM:SS then seconds since the first row', () => {
    const f = new AcceptRowFormatter({ time: true, timestamp: true });
    const at = new Date(2026, 0, 2, 3, 4, 5);
    expect(f.row(ev, at)).toMatch(/^03:04:05 0\.000    907 /);
    expect(f.row({ ...ev, tsUs: ev.tsUs + 1_500_000 }, at)).toMatch(/^03:04:05 1\.500    907 /);
    expect(wallClock(new Date(2026, 0, 2, 23, 59, 9))).toBe('23:59:09');
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
        time: true, timestamp: true, pid: 181, ports: [80, 81], family: 6, cgroupmap: '/m', mntnsmap: undefined,
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
