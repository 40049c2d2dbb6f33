// SPDX-License-Identifier: Apache-2.0
//
// npm run soak: tcpconnect -d for SOAK_SECONDS (default 600) under a
// loopback connect storm and, at the same time, a DNS flood from a local
// sender on 127.0.0.155:53: half hostile headers that claim 65535 records,
// half well-formed answers naming ever new addresses. Samples the tracer's
// RSS every second; at the end every connect the storm made must have its
// row, or be counted as lost on stderr. Prints one summary and writes
// .output/soak.json. Run as root after the build. See bench/README.md.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as dnsPacket from 'dns-packet';

import { buildStorm, Storm } from './storm.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, '.output');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const PROCS = Number(process.env.BENCH_PROCS ?? 2);
const FLOOD_PER_SECOND = 1000;

fs.mkdirSync(OUT, { recursive: true });
const STORM = path.join(OUT, 'storm');
buildStorm(STORM);

const rowsFile = path.join(OUT, 'soak-rows.txt');
const rowsFd = fs.openSync(rowsFile, 'w');
const tracer = spawn(process.execPath, [path.join(ROOT, 'dist', 'bin', 'tcpconnect.js'), '-d'], {
  stdio: ['ignore', rowsFd, 'pipe'],
});
let stderr = '';
tracer.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
const exited = new Promise((r) => tracer.on('close', r));
while (!fs.readFileSync(rowsFile, 'latin1').includes('QUERY\n')) await new Promise((r) => setTimeout(r, 50));

const socket = async (port, address) => {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(port, address, r));
  return s;
};
const sink = await socket(0, '127.0.0.1');
const flood = await socket(53, '127.0.0.155');
const hostile = Buffer.from([0, 1, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
let sent = 0;
const flooding = setInterval(() => {
  for (let i = 0; i < FLOOD_PER_SECOND / 100; i++, sent++) {
    const answer =
      sent % 2
        ? hostile
        : dnsPacket.encode({
            type: 'response',
            id: sent & 0xffff,
            questions: [{ type: 'A', name: `h${sent}.soak.test` }],
            answers: [
              {
                type: 'A',
                name: `h${sent}.soak.test`,
                data: `10.${(sent >> 16) & 255}.${(sent >> 8) & 255}.${sent & 255}`,
              },
            ],
          });
    flood.send(answer, sink.address().port, '127.0.0.1');
  }
}, 10);

const rss = [];
const sampling = setInterval(() => {
  const m = fs.readFileSync(`/proc/${tracer.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  if (m) rss.push(Number(m[1]) / 1024);
}, 1000);

const storm = new Storm(STORM, PROCS, 0, SECONDS);
await storm.line(); // ready
const { connects } = await storm.run(0, SECONDS);
clearInterval(flooding);
clearInterval(sampling);
await new Promise((r) => setTimeout(r, 300));
tracer.kill('SIGINT');
await exited;
await storm.end();
sink.close();
flood.close();

// Ten minutes of rows are some 2.5 GB: counted as they stream past, and then deleted.
let rows = 0;
let tail = '';
for await (const chunk of fs.createReadStream(rowsFile, { encoding: 'latin1', highWaterMark: 1 << 20 })) {
  const lines = (tail + chunk).split('\n');
  tail = lines.pop();
  for (const l of lines) if (l.includes(' storm-connec')) rows++;
}
fs.rmSync(rowsFile);
const lost = [...stderr.matchAll(/Possibly lost (\d+) samples/g)].reduce((n, m) => n + Number(m[1]), 0);
const minute = Math.min(60, Math.floor(rss.length / 2));
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const result = {
  seconds: SECONDS,
  connects,
  rows,
  lost,
  missing: connects - rows - lost,
  dnsPacketsSent: sent,
  rssMB: {
    firstMinute: mean(rss.slice(0, minute)),
    lastMinute: mean(rss.slice(-minute)),
    max: Math.max(...rss),
    samples: rss.length,
    // flat means no minute above the one before by more than noise
    perMinute: Array.from({ length: Math.ceil(rss.length / 60) }, (_, i) =>
      Number(mean(rss.slice(i * 60, (i + 1) * 60)).toFixed(1)),
    ),
  },
  stderr: stderr.trim().split('\n'),
};
fs.writeFileSync(path.join(OUT, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `soak: ${SECONDS} s, ${connects} connects, ${rows} rows, ${lost} lost, ${result.missing} missing; ` +
    `${sent} DNS packets; RSS MB first minute ${result.rssMB.firstMinute.toFixed(1)}, last minute ` +
    `${result.rssMB.lastMinute.toFixed(1)}, max ${result.rssMB.max.toFixed(1)}; per minute ${result.rssMB.perMinute.join(' ')}`,
);
process.exitCode = result.missing === 0 ? 0 : 1;
