// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { parseAttach, parsePid, parsePorts, parseUid } from '../src/cli/values.js';
import { UsageError } from '../src/errors.js';
import { parseArgs } from '../src/tcpconnect.js';

describe('parsePid', () => {
  it.each([
    ['1', 1],
    ['181', 181],
    ['2147483647', 2147483647],
  ])('accepts %s', (v, n) => expect(parsePid(v)).toBe(n));

  it.each(['abc', '0', '-1', '1.5', '', ' 1', '0x10', '2147483648', '1e3'])('refuses %j', (v) => {
    expect(() => parsePid(v)).toThrow(UsageError);
    expect(() => parsePid(v)).toThrow(`argument -p/--pid: invalid PID '${v}'`);
  });
});

describe('parseUid', () => {
  it('accepts 0 (root is a user to filter on)', () => expect(parseUid('0')).toBe(0));
  it('accepts 4294967294', () => expect(parseUid('4294967294')).toBe(4294967294));
  it.each(['x', '-1', '4294967295', ''])('refuses %j', (v) => {
    expect(() => parseUid(v)).toThrow(`argument -u/--uid: invalid UID '${v}'`);
  });
});

describe('parsePorts', () => {
  it.each([
    ['80', [80]],
    ['80,81', [80, 81]],
    ['0', [0]],
    ['65535,1,80', [65535, 1, 80]],
  ])('when -P %s then %j', (v, ports) => expect(parsePorts(v)).toEqual(ports));

  it.each([
    ['70000', "invalid port '70000'"],
    ['80,,81', "empty port in list '80,,81'"],
    ['80,', "empty port in list '80,'"],
    ['http', "invalid port 'http'"],
    ['-1', "invalid port '-1'"],
    ['', 'empty port list'],
  ])('when -P %j then it refuses: %s', (v, msg) => {
    expect(() => parsePorts(v)).toThrow(`argument -P/--port: ${msg}`);
  });
});

describe('parseAttach', () => {
  it.each(['auto', 'kprobe', 'tracepoint'])('accepts %s', (m) => expect(parseAttach(m)).toBe(m));
  it('refuses others', () => expect(() => parseAttach('fentry')).toThrow("invalid choice: 'fentry'"));
});

describe('parseArgs', () => {
  it('defaults to every connect, both families, auto attach', () => {
    expect(parseArgs([])).toEqual({
      kind: 'run',
      options: {
        json: false,
        time: false,
        timestamp: false,
        pid: undefined,
        ports: undefined,
        family: 0,
        lport: false,
        printUid: false,
        uid: undefined,
        count: false,
        dns: false,
        result: false,
        failed: false,
        cgroupmap: undefined,
        mntnsmap: undefined,
        cgroups: [],
        netns: [],
        container: false,
        attach: 'auto',
      },
    });
  });

  it('reads every flag of bcc, short and long', () => {
    const short = parseArgs(['-t', '-T', '-p', '181', '-P', '80,81', '-6', '-L', '-U', '-u', '1000', '-c']);
    const dns = parseArgs(['--dns']);
    expect(dns.kind === 'run' && dns.options.dns).toBe(true);
    // Ours: -R/--result, and -x/--failed, which prints -R's columns too.
    for (const [args, result, failed] of [
      [['-R'], true, false],
      [['--result'], true, false],
      [['-x'], true, true],
      [['--failed'], true, true],
    ] as const) {
      const r = parseArgs([...args]);
      expect(r.kind === 'run' && [r.options.result, r.options.failed]).toEqual([result, failed]);
    }
    const long = parseArgs([
      '--timestamp',
      '--time',
      '--pid',
      '181',
      '--port',
      '80,81',
      '--ipv6',
      '--lport',
      '--print-uid',
      '--uid',
      '1000',
      '--count',
    ]);
    const want = {
      kind: 'run',
      options: {
        json: false,
        time: true,
        timestamp: true,
        pid: 181,
        ports: [80, 81],
        family: 6,
        lport: true,
        printUid: true,
        uid: 1000,
        count: true,
        dns: false,
        result: false,
        failed: false,
        cgroupmap: undefined,
        mntnsmap: undefined,
        cgroups: [],
        netns: [],
        container: false,
        attach: 'auto',
      },
    };
    expect(short).toEqual(want);
    expect(long).toEqual(want);
  });

  it('takes --cgroupmap and --mntnsmap paths', () => {
    const p = parseArgs(['--cgroupmap', '/sys/fs/bpf/cg', '--mntnsmap', '/sys/fs/bpf/mnt']);
    expect(p.kind === 'run' && [p.options.cgroupmap, p.options.mntnsmap]).toEqual([
      '/sys/fs/bpf/cg',
      '/sys/fs/bpf/mnt',
    ]);
  });

  it.each([['--cgroupmap', ''], ['--cgroupmap='], ['--mntnsmap', ''], ['--mntnsmap=']])(
    'refuses an empty filter path %j: a filter fails closed',
    (...argv) => {
      const flag = argv[0].replace('=', '');
      expect(() => parseArgs(argv)).toThrow(
        new UsageError(`argument ${flag}: empty path (a filter must name its pinned map)`),
      );
    },
  );

  it('takes -4 and --attach tracepoint', () => {
    const p = parseArgs(['-4', '--attach', 'tracepoint']);
    expect(p.kind === 'run' && [p.options.family, p.options.attach]).toEqual([4, 'tracepoint']);
  });

  it('returns bcc help for -h', () => {
    const p = parseArgs(['-h']);
    expect(p.kind).toBe('print');
    if (p.kind !== 'print') return;
    expect(p.text).toContain('usage: tcpconnect [-h] [-t] [-p PID] [-P PORT] [-4 | -6] [-L] [-U] [-u UID]\n');
    expect(p.text).toContain('  -P PORT, --port PORT  comma-separated list of destination ports to trace.\n');
    expect(p.text).toContain('  -u UID, --uid UID     trace this UID only\n');
    expect(p.text).toContain('examples:\n    ./tcpconnect           # trace all TCP connect()s\n');
  });

  it.each([
    [['-4', '-6'], 'argument -6/--ipv6: not allowed with argument -4/--ipv4'],
    [['--ipv6', '-4'], 'argument -4/--ipv4: not allowed with argument -6/--ipv6'],
    [['--foo'], 'unrecognized arguments: --foo'],
    [['-p'], 'argument -p/--pid: expected one argument'],
    [['-c', '-d'], 'you may not specify -d/--dns with -c/--count'],
    [['--dns', '--count'], 'you may not specify -d/--dns with -c/--count'],
    [['x'], 'unrecognized arguments: x'],
  ])('refuses %j: %s', (argv, msg) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(msg);
  });
});
