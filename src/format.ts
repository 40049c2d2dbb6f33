// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect's output: bcc's tools/tcpconnect.py printf strings as data,
// mode for mode, trailing spaces included. Nothing else prints rows.

import { asText, formatter, sprintf, type ByteSink } from './printf.js';
import type { FlowCount } from './count.js';
import type { ConnectEvent } from './decode.js';

export const BANNER = 'Tracing connect ... Hit Ctrl-C to end';

const FORMATS = {
  timestamp: { header: '%-9s', row: '%-9.3f' },
  uid: { header: '%-6s', row: '%-6d' },
  plain: {
    header: '%-7s %-12s %-2s %-16s %-16s %-6s',
    row: '%-7d %-12.12s %-2d %-16s %-16s %-6d %s',
  },
  lport: {
    header: '%-7s %-12s %-2s %-16s %-6s %-16s %-6s',
    row: '%-7d %-12.12s %-2d %-16s %-6d %-16s %-6d %s',
  },
  // tcpaccept (tools/tcpaccept.py): no banner; -T and -t prefixes.
  accept: {
    header: '%-7s %-12s %-2s %-16s %-5s %-16s %-5s',
    row: '%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d',
    time: { header: '%-9s', row: '%-9s' },
  },
  // -c: bcc prints "\n" + header, then each key as "%-25s %-25s %-20s" and
  // the count as "%s %-10d" of that.
  count: {
    header: '\n%-25s %-25s %-20s %-10s',
    key: '%-25s %-25s %-20s',
    row: '%s %-10d',
  },
} as const;

export interface Columns {
  timestamp: boolean; // -t
  printUid: boolean; // -U
  lport: boolean; // -L
  dns: boolean; // -d
}

export function header(cols: Columns): string {
  let line = '';
  if (cols.timestamp) line += sprintf(FORMATS.timestamp.header, 'TIME(s)');
  if (cols.printUid) line += sprintf(FORMATS.uid.header, 'UID');
  line += cols.lport
    ? sprintf(FORMATS.lport.header, 'PID', 'COMM', 'IP', 'SADDR', 'LPORT', 'DADDR', 'DPORT')
    : sprintf(FORMATS.plain.header, 'PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'DPORT');
  return cols.dns ? `${line} QUERY` : line;
}

// Rows are formatted once per event: their formats are compiled up front.
const ROW = {
  timestamp: formatter(FORMATS.timestamp.row),
  uid: formatter(FORMATS.uid.row),
  plain: formatter(FORMATS.plain.row),
  lport: formatter(FORMATS.lport.row),
  accept: formatter(FORMATS.accept.row),
  acceptTime: formatter(FORMATS.accept.time.row),
};

/** Formats rows; -t counts from the first row formatted, as bcc does. */
export class RowFormatter {
  private startUs: number | undefined;

  constructor(private readonly cols: Columns) {}

  /** Writes one row, without its newline. suffix: -d's QUERY text, after the DPORT column's separator. */
  write(sink: ByteSink, ev: ConnectEvent, suffix = ''): void {
    if (this.cols.timestamp) {
      const us = ev.tsUs;
      this.startUs ??= us;
      ROW.timestamp(sink, (us - this.startUs) / 1000000);
    }
    if (this.cols.printUid) ROW.uid(sink, ev.uid);
    if (this.cols.lport) ROW.lport(sink, ev.pid, ev.task, ev.ip, ev.saddr, ev.lport, ev.daddr, ev.dport, suffix);
    else ROW.plain(sink, ev.pid, ev.task, ev.ip, ev.saddr, ev.daddr, ev.dport, suffix);
  }

  /** One row as latin1 text. */
  row(ev: ConnectEvent, suffix = ''): string {
    return asText((sink) => this.write(sink, ev, suffix));
  }
}

/** -c's table: a blank line, the header, IPv4 flows, then IPv6 flows. */
export function countTable(ipv4: FlowCount[], ipv6: FlowCount[]): string {
  const { count } = FORMATS;
  const lines = [sprintf(count.header, 'LADDR', 'RADDR', 'RPORT', 'CONNECTS')];
  for (const f of [...ipv4, ...ipv6])
    lines.push(sprintf(count.row, sprintf(count.key, f.saddr, f.daddr, f.dport), f.count));
  return `${lines.join('\n')}\n`;
}

export interface AcceptColumns {
  time: boolean; // -T
  timestamp: boolean; // -t
}

export function acceptHeader(cols: AcceptColumns): string {
  const { accept, timestamp } = FORMATS;
  let line = '';
  if (cols.time) line += sprintf(accept.time.header, 'TIME');
  if (cols.timestamp) line += sprintf(timestamp.header, 'TIME(s)');
  return line + sprintf(accept.header, 'PID', 'COMM', 'IP', 'RADDR', 'RPORT', 'LADDR', 'LPORT');
}

/** HH:MM:SS of the local wall clock, as Python's time.strftime("%H:%M:%S"). */
export function wallClock(now: Date): string {
  return [now.getHours(), now.getMinutes(), now.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** tcpaccept's rows: the record is tcpconnect's, saddr/lport local and daddr/dport remote. */
export class AcceptRowFormatter {
  private startUs: number | undefined;

  constructor(private readonly cols: AcceptColumns) {}

  /** Writes one row, without its newline. now: the wall clock at print time (bcc's -T is not the event's time). */
  write(sink: ByteSink, ev: ConnectEvent, now: Date): void {
    if (this.cols.time) ROW.acceptTime(sink, wallClock(now));
    if (this.cols.timestamp) {
      const us = ev.tsUs;
      this.startUs ??= us;
      ROW.timestamp(sink, (us - this.startUs) / 1000000);
    }
    ROW.accept(sink, ev.pid, ev.task, ev.ip, ev.daddr, ev.dport, ev.saddr, ev.lport);
  }

  /** One row as latin1 text. */
  row(ev: ConnectEvent, now: Date): string {
    return asText((sink) => this.write(sink, ev, now));
  }
}
