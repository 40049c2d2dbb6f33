// SPDX-License-Identifier: Apache-2.0
//
// A network namespace the test creates and removes: loopback up and a veth
// pair, tcpc0 holding 198.18.0.1/24. 198.18.0.2 is a silent host: a static
// neighbour entry sends its frames to a MAC nobody has, so the SYN is
// transmitted on tcpc0, dropped by the peer end, and connect() waits.
// 198.18.0.3 never answers ARP: ARP gives up after one try in 0.1 s, so a
// connect to it fails with EHOSTUNREACH and its SYN never leaves. Nothing
// leaves the namespace. 192.0.2.0/24 has an unreachable route, and
// anything else outside 198.18.0.0/24 no route at all: connect fails
// before any packet, with EHOSTUNREACH and ENETUNREACH. tcp_syn_retries
// is 1 in the namespace: a connect to the silent host times out in ~3 s.
import { execFileSync } from 'node:child_process';

export const SILENT_HOST = '198.18.0.2';
export const UNROUTED_HOST = '203.0.113.1';
export const NO_ARP_HOST = '198.18.0.3';
export const UNREACHABLE_HOST = '192.0.2.1';

export function createNetns(): { name: string; remove: () => void } {
  const name = `tcpc-test-${process.pid}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  ip('netns', 'add', name);
  const inNs = (...args: string[]) => ip('-n', name, ...args);
  try {
    inNs('link', 'set', 'lo', 'up');
    inNs('link', 'add', 'tcpc0', 'type', 'veth', 'peer', 'name', 'tcpc1');
    inNs('addr', 'add', '198.18.0.1/24', 'dev', 'tcpc0');
    inNs('link', 'set', 'tcpc0', 'up');
    inNs('link', 'set', 'tcpc1', 'up');
    inNs('neigh', 'replace', SILENT_HOST, 'lladdr', '02:00:00:00:00:02', 'dev', 'tcpc0', 'nud', 'permanent');
    inNs('route', 'add', 'unreachable', '192.0.2.0/24');
    const neigh = 'net.ipv4.neigh.tcpc0';
    ip(
      'netns',
      'exec',
      name,
      'sysctl',
      '-qw',
      `${neigh}.mcast_solicit=1`,
      `${neigh}.ucast_solicit=1`,
      `${neigh}.app_solicit=0`,
      `${neigh}.retrans_time_ms=100`,
      'net.ipv4.tcp_syn_retries=1',
    );
  } catch (err) {
    ip('netns', 'delete', name);
    throw err;
  }
  return { name, remove: () => ip('netns', 'delete', name) };
}
