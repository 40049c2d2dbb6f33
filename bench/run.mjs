// SPDX-License-Identifier: Apache-2.0
//
// npm run bench: start-up, overhead, loss and cost per event of tcpconnect,
// tcpaccept and tcpconnect -c under a loopback connect storm, against no
// tracer, against an empty program on the same tracepoint (the floor of
// hooking it at all) and against bpftrace in the same run. Prints a table and writes
// .output/bench.json. Run as root after the build. See bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildStorm, Storm } from './storm.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, '.output');
const STORM = path.join(OUT, 'storm');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
// Seconds of storm before each window, left out of its rate.
const SETTLE = Number(process.env.BENCH_SETTLE ?? 0.3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const PROCS = Number(process.env.BENCH_PROCS ?? 2);
const node = process.execPath;
const bin = (tool) => path.join(ROOT, 'dist', 'bin', `${tool}.js`);

fs.mkdirSync(OUT, { recursive: true });
buildStorm(STORM);
// The floor: bench/floor.bpf.c's empty program, held by bench/floor.c.
const FLOOR = path.join(OUT, 'floor');
const FLOOR_OBJ = path.join(OUT, 'floor.bpf.o');
const multiarch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
execFileSync('clang', [
  '-O2',
  '-g',
  '-Wall',
  '-target',
  'bpf',
  ...(multiarch ? [`-I/usr/include/${multiarch}`] : []),
  '-c',
  path.join(ROOT, 'bench', 'floor.bpf.c'),
  '-o',
  FLOOR_OBJ,
]);
execFileSync('gcc', ['-O2', '-Wall', '-o', FLOOR, path.join(ROOT, 'bench', 'floor.c'), '-lbpf']);
// The baseline a user would otherwise pick: bpftrace from Debian's packages,
// installed here when missing (scripts/setup.sh installs only what the tools need).
let bpftrace = null;
try {
  execFileSync(path.join(ROOT, 'scripts', 'ensure-packages.sh'), ['bench', 'bpftrace'], { stdio: 'inherit' });
  bpftrace = execFileSync('sh', ['-c', 'command -v bpftrace'], { encoding: 'utf8' }).trim();
} catch {
  console.error('bench: bpftrace could not be installed (apt-get install bpftrace); its row stays empty');
}

// bpftrace finds tracepoints through tracefs, which this machine does not
// mount: it runs in a mount namespace of its own with tracefs mounted
// there (unshare and sh exec it, so its PID is the one measured).
const withTracefs = 'mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing; exec "$0" "$@"';
const bpftraceCmd = bpftrace && [
  ...['unshare', '-m', '--propagation', 'private', 'sh', '-c', withTracefs],
  ...[bpftrace, '-B', 'none', path.join(ROOT, 'bench', 'tcpconnect.bt')],
];

// Where cgroup v2 is mounted (/proc/self/mountinfo: the type after " - ", the mount point fifth).
const CGROUP2 = fs
  .readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))
  ?.split(' ')[4];

// A mount namespace with no cgroup2 mounted (sh execs the tracer: its PID is the one measured).
const withoutCgroup2 = `umount -l ${CGROUP2}; exec "$0" "$@"`;

// Each tracer: how to start it, when it is ready, and how to count what it saw.
// BENCH_ONLY=name,name runs only those (and the floor, the baseline of the table).
const ONLY = process.env.BENCH_ONLY?.split(',');
const ALL_TRACERS = {
  // Prints no rows: what hooking the tracepoint costs before any work.
  'hook floor': { cmd: [FLOOR, FLOOR_OBJ], ready: 1, count: null, out: 'file' },
  'tcpconnect > file': { cmd: [node, bin('tcpconnect')], ready: 2, count: countLines('storm-connec'), out: 'file' },
  'tcpconnect | pipe': { cmd: [node, bin('tcpconnect')], ready: 2, count: countLines('storm-connec'), out: 'pipe' },
  // -j prints no header: ready when stderr says how it traces.
  'tcpconnect -j > file': {
    cmd: [node, bin('tcpconnect'), '-j'],
    ready: 'stderr',
    count: (text) => text.split('\n').filter((l) => l.includes('"comm":"storm-connec')).length,
    out: 'file',
  },
  // -j as on a host with no cgroup2: each row waits for the SYN's net_dev_queue.
  'tcpconnect -j (no cgroup2)': {
    cmd: [
      ...['unshare', '-m', '--propagation', 'private', 'sh', '-c', withoutCgroup2],
      ...[node, bin('tcpconnect'), '-j'],
    ],
    ready: 'stderr',
    count: (text) => text.split('\n').filter((l) => l.includes('"comm":"storm-connec')).length,
    out: 'file',
  },
  // -R: every row held in the kernel until its outcome (all OK here).
  'tcpconnect -R > file': {
    cmd: [node, bin('tcpconnect'), '-R'],
    ready: 2,
    count: countLines('storm-connec'),
    out: 'file',
  },
  // In-kernel --cgroup (the whole cgroup2 mount: every connect passes) and -C's column.
  'tcpconnect --cgroup -C > file': {
    cmd: [node, bin('tcpconnect'), '--cgroup', CGROUP2, '-C'],
    ready: 2,
    count: countLines('storm-connec'),
    out: 'file',
  },
  'tcpconnect -c': { cmd: [node, bin('tcpconnect'), '-c'], ready: 1, count: countTable, out: 'file' },
  'tcpaccept > file': {
    cmd: [node, bin('tcpaccept')],
    ready: 1,
    count: countLines('storm-accept'),
    out: 'file',
    expect: 'accepts',
  },
  ...(bpftrace && {
    'bpftrace > file': {
      cmd: bpftraceCmd,
      ready: 1,
      count: countLines('storm-connect'),
      out: 'file',
    },
  }),
};

const TRACERS = Object.fromEntries(
  Object.entries(ALL_TRACERS).filter(([name]) => !ONLY || name === 'hook floor' || ONLY.includes(name)),
);

function countLines(comm) {
  return (text) => text.split('\n').filter((l) => l.includes(` ${comm}`)).length;
}

// -c: the CONNECTS of the storm's flows (127.0.0.1 to 127.0.0.1).
function countTable(text) {
  return text
    .split('\n')
    .filter((l) => /^127\.0\.0\.1 +127\.0\.0\.1 /.test(l))
    .reduce((sum, l) => sum + Number(l.trim().split(/ +/).pop()), 0);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** SIGINT, as a user's Ctrl-C; SIGKILL if it has not ended 3 s later (bpftrace can miss a SIGINT while attaching). */
async function stop(proc, exited) {
  proc.kill('SIGINT');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/**
 * CPU seconds and peak RSS of a live process. The CPU is the run time the
 * scheduler counts for each of its threads (schedstat, in ns): a run costs
 * the tracer some 50 ms, which /proc/PID/stat's 10 ms ticks would only
 * roughly tell.
 */
function usage(pid) {
  const threads = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(tid, Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // the thread ended meanwhile
    }
  }
  const hwm = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return { threads, rssMB: hwm ? Number(hwm[1]) / 1024 : NaN };
}

/** CPU seconds between two usage() readings (threads that ended in between lose their share). */
function cpuBetween(before, after) {
  let ns = 0;
  for (const [tid, t] of after.threads) ns += t - (before.threads.get(tid) ?? 0);
  return ns / 1e9;
}

/**
 * Nanoseconds our programs have run, and how many runs, where the kernel
 * keeps count (kernel.bpf_stats_enabled=1): the in-kernel cost, which the
 * tracer's own CPU time does not include.
 */
function bpfRuns() {
  try {
    const programs = ourPrograms();
    return {
      ns: programs.reduce((a, p) => a + (p.run_time_ns ?? 0), 0),
      runs: programs.reduce((a, p) => a + (p.run_cnt ?? 0), 0),
    };
  } catch {
    return { ns: NaN, runs: NaN };
  }
}

/** Programs of ours (or the floor's) loaded now, as bpftool lists them. */
function ourPrograms() {
  const list = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }));
  return list.filter((p) => /^(tcp[ca]|floor)_/.test(p.name ?? ''));
}
/**
 * kernel.bpf_stats_enabled: counting run time costs two clock reads per
 * program run, so the storm rounds run with it off, as on a user's machine,
 * and one more run of each of our tracers counts the in-kernel cost with it
 * on. The machine's setting is put back at exit.
 */
const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const statsBefore = (() => {
  try {
    return fs.readFileSync(STATS, 'utf8').trim();
  } catch {
    return null;
  }
})();
function setBpfStats(on) {
  if (statsBefore === null) return false;
  try {
    fs.writeFileSync(STATS, on ? '1' : '0');
    return true;
  } catch {
    return false;
  }
}
function restoreBpfStats() {
  if (statsBefore !== null) setBpfStats(statsBefore === '1');
}
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
])
  process.on(sig, () => (restoreBpfStats(), process.exit(code)));

/** One storm run with tracer `name` attached; countBpf: also its programs' in-kernel run time. */
async function withTracer(storm, name, countBpf = false) {
  const t = TRACERS[name];
  const file = path.join(OUT, 'bench-rows.txt');
  let reader;
  let stdout;
  if (t.out === 'pipe') {
    reader = spawn('cat', [], { stdio: ['pipe', fs.openSync(file, 'w'), 'ignore'] });
    stdout = reader.stdin;
  } else {
    stdout = fs.openSync(file, 'w');
  }
  const proc = spawn(t.cmd[0], t.cmd.slice(1), { stdio: ['ignore', stdout, 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => proc.on('close', r));
  // Ready when its header is out (programs attached).
  let ready = false;
  for (let i = 0; i < 300 && !ready && proc.exitCode === null; i++) {
    ready =
      t.ready === 'stderr'
        ? stderr.includes(' tracing with ')
        : fs.readFileSync(file, 'utf8').split('\n').length > t.ready;
    if (!ready) await sleep(20);
  }
  if (!ready) {
    await stop(proc, exited);
    throw new Error(`${name} did not start: ${stderr.trim() || 'no header in 6 s'}`);
  }
  if (process.env.BENCH_DEBUG) console.error(`bench: ${name} ready`);
  const before = usage(proc.pid);
  const bpfBefore = countBpf ? bpfRuns() : null;
  const s = await storm.run();
  await sleep(300); // the last rows are read within 100 ms
  const after = usage(proc.pid);
  const bpfAfter = bpfBefore && bpfRuns();
  const bpf = bpfAfter && { ns: bpfAfter.ns - bpfBefore.ns, runs: bpfAfter.runs - bpfBefore.runs };
  await stop(proc, exited);
  if (reader) {
    reader.stdin.end(); // our copy of the pipe's write end
    await new Promise((r) => reader.on('close', r));
  }
  // Written back now, not by the kernel's flusher 30 s later in the middle
  // of some other run's storm.
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  if (typeof stdout === 'number') fs.closeSync(stdout);
  await sleep(200); // its programs' teardown (RCU, freeing the buffer) out of the next run
  const seen = t.count ? t.count(fs.readFileSync(file, 'utf8')) : NaN;
  const lost = [...stderr.matchAll(/(?:Possibly lost|Lost) (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  // What it should have seen: every connect (tcpaccept: every accept).
  const expected = t.expect === 'accepts' ? s.accepts : s.connects;
  return { ...s, expected, seen, lost, cpu: cpuBetween(before, after), rssMB: after.rssMB, bpf };
}

async function startup(name, cmd, readyLines, runs = 10) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    await new Promise((resolve, reject) => {
      const check = () => out.split('\n').length > readyLines && resolve();
      p.stdout.on('data', (d) => ((out += d), check()));
      p.stderr.on('data', check);
      p.on('close', () => reject(new Error(`${name} ended before its header: ${err.trim()}`)));
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await stop(p, new Promise((r) => p.on('close', r)));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A distribution-free 95 % confidence interval for the median of sorted
 * xs: the k-th smallest and k-th largest, k the largest for which
 * P(k <= Binomial(n, 1/2) <= n - k) is still at least 0.95 (n = 10: the
 * 2nd and 9th, 97.9 %). It assumes nothing of the host's noise but that
 * rounds are independent.
 */
function medianInterval(sorted) {
  const n = sorted.length;
  const pmf = (i) => {
    let c = 1;
    for (let j = 0; j < i; j++) c = (c * (n - j)) / (j + 1);
    return c / 2 ** n;
  };
  let k = 0; // 0-based: sorted[k], sorted[n - 1 - k]
  let tail = pmf(0); // P(Binomial < k + 1)
  while (k + 1 < n - 1 - (k + 1) && 1 - 2 * (tail + pmf(k + 1)) >= 0.95) tail += pmf(++k);
  return [sorted[k], sorted[n - 1 - k]];
}

async function main() {
  if (process.env.BENCH_DEBUG) console.error('bench: start');
  // Another tracer would skew every figure. One that just ended frees its
  // raw tracepoint links after an RCU grace period: wait that out first.
  let stray = ourPrograms();
  for (let i = 0; i < 50 && stray.length > 0; i++) await sleep(100), (stray = ourPrograms());
  if (stray.length > 0)
    throw new Error(`already loaded: ${stray.map((p) => p.name).join(', ')}; stop the tracer that holds them first`);
  setBpfStats(false);
  const results = { seconds: SECONDS, settle: SETTLE, rounds: ROUNDS, procs: PROCS, startupMs: {}, storm: {} };
  for (const [name, cmd, ready] of [
    ['tcpconnect', [node, bin('tcpconnect')], 2],
    ['tcpaccept', [node, bin('tcpaccept')], 1],
    // bpftrace's "Attaching 1 probe..." line.
    ...(bpftrace ? [['bpftrace', bpftraceCmd, 1]] : []),
  ])
    (results.startupMs[name] = await startup(name, cmd, ready)),
      process.env.BENCH_DEBUG && console.error('bench: startup', name);

  const runs = { 'no tracer': [] };
  const ratios = { 'no tracer': [] };
  for (const name of Object.keys(TRACERS)) (runs[name] = []), (ratios[name] = []);
  // The storm's rate drifts from second to second on this machine, so
  // no-tracer runs alternate with tracer runs, each tracer run's ratio is
  // against the mean of the no-tracer runs just before and just after it,
  // and a tracer's ratio is the median of its rounds.
  const storm = new Storm(STORM, PROCS, SETTLE, SECONDS);
  await storm.line(); // "ready": its processes are up, paused
  const baseline = async () => {
    const base = { ...(await storm.run()), seen: NaN, lost: 0, cpu: NaN, rssMB: NaN };
    runs['no tracer'].push(base);
    ratios['no tracer'].push(1);
    return base;
  };
  let before = await baseline();
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of Object.keys(TRACERS)) {
      const run = await withTracer(storm, name);
      const after = await baseline();
      runs[name].push(run);
      ratios[name].push(run.rate / ((before.rate + after.rate) / 2));
      before = after;
    }
  }
  // The in-kernel cost per connect, with the kernel counting it; and from
  // the same runs, each tracer's cost beyond the floor as a share of the
  // machine: its own CPU plus its programs' run time less the floor's, over
  // the CPU time the storm had. Every term is counted over the same seconds,
  // so a slow or fast host moves them together, unlike a throughput ratio.
  const bpfStats = setBpfStats(true);
  const bpfNsPerConnect = {};
  const counted = {};
  if (bpfStats)
    for (const name of Object.keys(TRACERS).filter((n) => !n.startsWith('bpftrace'))) {
      const run = await withTracer(storm, name, true);
      bpfNsPerConnect[name] = run.bpf.ns / run.connects;
      counted[name] = run;
    }
  await storm.end();
  restoreBpfStats();
  const cpus = os.availableParallelism();
  const overFloor = {};
  for (const [name, run] of Object.entries(counted)) {
    if (name === 'hook floor') continue;
    const bpfOverFloor = (bpfNsPerConnect[name] - bpfNsPerConnect['hook floor']) * run.connects;
    overFloor[name] = (run.cpu + bpfOverFloor / 1e9) / (cpus * run.took);
  }
  for (const [name, xs] of Object.entries(runs)) {
    const connects = xs.reduce((a, x) => a + (x.expected ?? x.connects), 0);
    const seen = xs.reduce((a, x) => a + x.seen, 0);
    const rs = [...ratios[name]].sort((a, b) => a - b);
    results.storm[name] = {
      rate: mean(xs.map((x) => x.rate)),
      ratio: rs[Math.floor(rs.length / 2)],
      ratioMin: rs[0],
      ratioMax: rs[rs.length - 1],
      ratio95: medianInterval(rs),
      ratios: ratios[name],
      rates: xs.map((x) => x.rate),
      bpfNsPerConnect: bpfNsPerConnect[name] ?? NaN,
      bpfRunsPerConnect: counted[name] ? counted[name].bpf.runs / counted[name].connects : NaN,
      cpuShareOverFloor: overFloor[name] ?? NaN,
      connects,
      seen,
      lost: xs.reduce((a, x) => a + x.lost, 0),
      missing: connects - seen,
      usPerEvent: (xs.reduce((a, x) => a + x.cpu, 0) / seen) * 1e6,
      peakRssMB: Math.max(...xs.map((x) => x.rssMB)),
    };
  }
  fs.writeFileSync(path.join(OUT, 'bench.json'), `${JSON.stringify(results, null, 2)}\n`);

  const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  console.log(
    `start-up, exec to header (median of 10): ${Object.entries(results.startupMs)
      .map(([k, v]) => `${k} ${fmt(v, 0)} ms`)
      .join(', ')}`,
  );
  console.log(
    `connect storm: ${PROCS} processes; rates over ${SECONDS} s windows, ${SETTLE} s into a running storm; ${ROUNDS} rounds, each tracer run between two no-tracer runs`,
  );
  console.log(
    'tracer              connects/s  ratio (95% CI)         rows/connects  lost  missing  cpu us/event  bpf ns/connect  % over floor  peak RSS MB',
  );
  for (const [name, s] of Object.entries(results.storm)) {
    const range = name === 'no tracer' ? '' : `(${fmt(s.ratio95[0], 3)}-${fmt(s.ratio95[1], 3)})`;
    const rows = Number.isFinite(s.seen) ? `${s.seen}/${s.connects}` : '-';
    console.log(
      `${name.padEnd(19)} ${fmt(s.rate, 0).padStart(10)}  ${fmt(s.ratio, 3)} ${range.padEnd(13)}  ${rows.padStart(13)}  ${String(s.lost).padStart(4)}  ${(Number.isFinite(s.missing) ? String(s.missing) : '-').padStart(7)}  ${fmt(s.usPerEvent, 2).padStart(12)}  ${fmt(s.bpfNsPerConnect, 0).padStart(14)}  ${fmt(s.cpuShareOverFloor * 100, 2).padStart(12)}  ${fmt(s.peakRssMB).padStart(11)}`,
    );
  }
  // Each tracer's median over the floor's: what it costs beyond the hook.
  const floor = results.storm['hook floor'].ratio;
  console.log(
    `over the hook floor (${fmt(floor, 3)}): ${Object.entries(results.storm)
      .filter(([name]) => name !== 'no tracer' && name !== 'hook floor')
      .map(([name, s]) => `${name} ${fmt(s.ratio / floor, 3)}`)
      .join(', ')}`,
  );
  if (!bpfStats) console.log(`bpf ns/connect: not counted (${STATS} could not be set)`);
  else {
    console.log(
      'bpf ns/connect, % over floor: one more run of each, with kernel.bpf_stats_enabled=1 (off in the rounds above)',
    );
    // Counting adds its clock reads to every run, the many that return at
    // once included: a tracer whose programs run more often per connect
    // is counted dearer than it runs in the rounds.
    console.log(
      `program runs per connect there: ${Object.entries(results.storm)
        .filter(([, s]) => Number.isFinite(s.bpfRunsPerConnect))
        .map(([name, s]) => `${name} ${fmt(s.bpfRunsPerConnect, 1)}`)
        .join(', ')}`,
    );
    console.log(
      `ratio over the floor that those shares leave a CPU-bound storm: ${Object.entries(overFloor)
        .map(([name, share]) => `${name} ${fmt(1 - share, 3)}`)
        .join(', ')}`,
    );
  }
  console.log(`written: ${path.join(OUT, 'bench.json')}`);
}

main().catch((err) => {
  restoreBpfStats();
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
