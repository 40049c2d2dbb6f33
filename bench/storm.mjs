// SPDX-License-Identifier: Apache-2.0
//
// The load both benches drive: bench/storm.c, BENCH_PROCS processes that do
// nothing but connect() and close() to a loopback listener, and one more
// that accepts. Built here, driven over its stdin.
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Compiles bench/storm.c to `binary`. */
export function buildStorm(binary) {
  const src = path.join(path.dirname(fileURLToPath(import.meta.url)), 'storm.c');
  execFileSync('gcc', ['-O2', '-Wall', '-o', binary, src]);
}

/**
 * The storm (bench/storm.c): started once, paused between runs, so that a
 * tracer starts and stops while it is paused and each window is measured
 * `settle` seconds into a storm already at full speed.
 */
export class Storm {
  constructor(binary, procs, settle, seconds) {
    this.settle = settle;
    this.seconds = seconds;
    this.proc = spawn(binary, [String(procs)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = [];
    this.waiting = [];
    let buf = '';
    this.proc.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) this.lines.push(buf.slice(0, i));
      this.waiting.splice(0).forEach((w) => w());
    });
    this.ended = new Promise((r) => this.proc.on('close', r)).then(() => this.waiting.splice(0).forEach((w) => w()));
  }

  async line() {
    while (!this.lines.length) {
      if (this.proc.exitCode !== null) throw new Error('the storm ended');
      await new Promise((r) => this.waiting.push(r));
    }
    return this.lines.shift();
  }

  /** One run: the connects and accepts of all of it, and the rate of its window. */
  async run(settle = this.settle, seconds = this.seconds) {
    this.proc.stdin.write(`run ${settle} ${seconds}\n`);
    const [connects, accepts, took, windowConnects, windowSeconds] = (await this.line()).split(' ').map(Number);
    return { connects, accepts, took, rate: windowConnects / windowSeconds };
  }

  async end() {
    this.proc.stdin.end();
    await this.ended;
  }
}
