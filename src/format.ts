// SPDX-License-Identifier: Apache-2.0
//
// tcpconnect's and tcpaccept's output: bcc's printf strings as data, mode
// for mode, trailing spaces included. Headers and -c's table are printed
// from here; rows are printed by the addon from the pieces made here.

import type { FlowCount } from './count.js';
import type { RowField, RowPiece } from './native.js';
import { parseFormat, sprintf } from './printf.js';

export const BANNER = 'Tracing connect ... Hit Ctrl-C to end';

const FORMATS = {
  // -T (tcpaccept's, and tcpconnect's): HH:MM:SS when the row is printed.
  time: { header: '%-9s', row: '%-9s' },
  timestamp: { header: '%-9s', row: '%-9.3f' },
  uid: { header: '%-6s', row: '%-6d' },
  // bcc's rows end in " %s": -d's QUERY, else nothing (a trailing space).
  plain: {
    header: '%-7s %-12s %-2s %-16s %-16s %-6s',
    row: '%-7d %-12.12s %-2d %-16s %-16s %-6d',
  },
  lport: {
    header: '%-7s %-12s %-2s %-16s %-6s %-16s %-6s',
    row: '%-7d %-12.12s %-2d %-16s %-6d %-16s %-6d',
  },
  last: ' %s',
  // tcpaccept (tools/tcpaccept.py): no banner; -T and -t prefixes.
  accept: {
    header: '%-7s %-12s %-2s %-16s %-5s %-16s %-5s',
    row: '%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d',
  },
  // -j: one JSON object per line, every key always there. The same
  // RowWriter prints them: isotime is RFC 3339 UTC from the record's stamp,
  // taskjson the whole COMM as a JSON string, who the cgroup keys
  // (src/identity.ts), and the suffix -d's keys.
  json: {
    connect:
      '{"event":"connect","time":"%s","pid":%d,"tid":%d,"comm":%s,"uid":%d,"ip":%d,' +
      '"saddr":"%s","lport":%d,"daddr":"%s","dport":%d%s,"mntns":%d,"netns":%d%s}',
    accept:
      '{"event":"accept","time":"%s","pid":%d,"tid":%d,"comm":%s,"ip":%d,' +
      '"raddr":"%s","rport":%d,"laddr":"%s","lport":%d%s,"mntns":%d,"netns":%d}',
  },
  // -R, -x: LAT(ms) and RESULT after DPORT, before -C's CONTAINER and -d's QUERY.
  result: { header: ' %-9s %-12s', row: ' %-9.3f %-12s' },
  resultJson: ',"result":"%s","errno":%d,"latency_ms":%.3f',
  // -C: CONTAINER after DPORT (LPORT for tcpaccept), before -d's QUERY.
  container: { header: '%-12s', cell: ' %-12s' },
  // -c: bcc prints "\n" + header, then each key as "%-25s %-25s %-20s" and
  // the count as "%s %-10d" of that.
  count: {
    header: '\n%-25s %-25s %-20s %-10s',
    key: '%-25s %-25s %-20s',
    row: '%s %-10d',
  },
} as const;

export interface Columns {
  time?: boolean; // -T
  timestamp: boolean; // -t
  printUid: boolean; // -U
  lport: boolean; // -L
  dns: boolean; // -d
  container?: boolean; // -C
  result?: boolean; // -R, -x
}

export function header(cols: Columns): string {
  let line = '';
  if (cols.time) line += sprintf(FORMATS.time.header, 'TIME');
  if (cols.timestamp) line += sprintf(FORMATS.timestamp.header, 'TIME(s)');
  if (cols.printUid) line += sprintf(FORMATS.uid.header, 'UID');
  line += cols.lport
    ? sprintf(FORMATS.lport.header, 'PID', 'COMM', 'IP', 'SADDR', 'LPORT', 'DADDR', 'DPORT')
    : sprintf(FORMATS.plain.header, 'PID', 'COMM', 'IP', 'SADDR', 'DADDR', 'DPORT');
  if (cols.result) line += sprintf(FORMATS.result.header, 'LAT(ms)', 'RESULT');
  if (cols.container) line += cols.dns ? ` ${sprintf(FORMATS.container.header, 'CONTAINER')}` : ' CONTAINER';
  return cols.dns ? `${line} QUERY` : line;
}

/** One format of a row and the record fields its conversions print, in order. */
export type RowPart = readonly [format: string, fields: readonly RowField[]];

/** tcpconnect's row: -t, -U, then the columns; the last field is -C's CONTAINER and -d's QUERY ('' without them). */
export function rowParts(cols: Columns): RowPart[] {
  const parts: RowPart[] = [];
  if (cols.time) parts.push([FORMATS.time.row, ['clock']]);
  if (cols.timestamp) parts.push([FORMATS.timestamp.row, ['seconds']]);
  if (cols.printUid) parts.push([FORMATS.uid.row, ['uid']]);
  parts.push(
    cols.lport
      ? [FORMATS.lport.row, ['pid', 'task', 'ip', 'saddr', 'lport', 'daddr', 'dport']]
      : [FORMATS.plain.row, ['pid', 'task', 'ip', 'saddr', 'daddr', 'dport']],
  );
  if (cols.result) parts.push([FORMATS.result.row, ['latency', 'result']]);
  if (!cols.container) parts.push([FORMATS.last, ['suffix']]);
  else if (!cols.dns) parts.push([FORMATS.last, ['who']]);
  else parts.push([FORMATS.container.cell, ['who']], [FORMATS.last, ['suffix']]);
  return parts;
}

/** -j's object for a connect (tcpconnect) or an accept (tcpaccept: the local end is saddr/lport); -R's keys after dport. */
export function jsonRowParts(event: 'connect' | 'accept', result = false): RowPart[] {
  const { json } = FORMATS;
  const who: RowField[] = ['who', 'mntns', 'netns'];
  const [head, tail] = json.connect.split('"dport":%d');
  return event === 'connect'
    ? [
        [
          `${head}"dport":%d${result ? FORMATS.resultJson : ''}${tail}`,
          [
            'isotime',
            'pid',
            'tid',
            'taskjson',
            'uid',
            'ip',
            'saddr',
            'lport',
            'daddr',
            'dport',
            ...(result ? (['result', 'errno', 'latency'] as const) : []),
            ...who,
            'suffix',
          ],
        ],
      ]
    : [[json.accept, ['isotime', 'pid', 'tid', 'taskjson', 'ip', 'daddr', 'dport', 'saddr', 'lport', ...who]]];
}

/** -c -j: one object per line of the table, in its order. */
export function countJson(ipv4: FlowCount[], ipv6: FlowCount[]): string {
  return [...ipv4, ...ipv6]
    .map(
      (f) =>
        `${JSON.stringify({ event: 'count', saddr: f.saddr, daddr: f.daddr, dport: f.dport, connects: Number(f.count) })}\n`,
    )
    .join('');
}

/** A loss, as -j says it on stdout (and stderr says it as bcc does). */
export const lostJson = (count: number): string => `${JSON.stringify({ event: 'lost', count })}\n`;

/**
 * The pieces the addon's RowWriter follows to print a row: each format's
 * conversions, given the field each prints. The rows are written in C
 * (native/rows.cc), once per event; these formats are all they follow.
 */
export function rowPieces(parts: readonly RowPart[]): RowPiece[] {
  return parts.flatMap(([format, fields]) => {
    let i = 0;
    const pieces = parseFormat(format).map((p): RowPiece => ('text' in p ? p : { field: fields[i++], ...p }));
    if (i !== fields.length || pieces.some((p) => 'conv' in p && p.field === undefined))
      throw new Error(`row format ${JSON.stringify(format)} does not print fields ${fields.join(', ')}`);
    return pieces;
  });
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
  container?: boolean; // -C
}

export function acceptHeader(cols: AcceptColumns): string {
  const { accept, time, timestamp } = FORMATS;
  let line = '';
  if (cols.time) line += sprintf(time.header, 'TIME');
  if (cols.timestamp) line += sprintf(timestamp.header, 'TIME(s)');
  line += sprintf(accept.header, 'PID', 'COMM', 'IP', 'RADDR', 'RPORT', 'LADDR', 'LPORT');
  return cols.container ? `${line} CONTAINER` : line;
}

/** tcpaccept's row: the record is tcpconnect's, saddr/lport local and daddr/dport remote. -T is the wall clock at print time, as bcc's. */
export function acceptRowParts(cols: AcceptColumns): RowPart[] {
  const { accept, time, timestamp } = FORMATS;
  const parts: RowPart[] = [];
  if (cols.time) parts.push([time.row, ['clock']]);
  if (cols.timestamp) parts.push([timestamp.row, ['seconds']]);
  parts.push([accept.row, ['pid', 'task', 'ip', 'daddr', 'dport', 'saddr', 'lport']]);
  if (cols.container) parts.push([FORMATS.last, ['who']]);
  return parts;
}
