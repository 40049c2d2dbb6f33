// SPDX-License-Identifier: Apache-2.0
//
// End-to-end plumbing: run the real CLI as root, make real connections,
// read the real rows. With CI=true a missing prerequisite fails the suite;
// elsewhere it skips with a one-line reason.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { addonPath } from '../../src/native.js';
import { SLOW } from '../slow.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** TCPCONNECT_TEST_INSTALLED=PREFIX tests the tools a release installed there (scripts/install-test.sh), not this checkout's. */
const INSTALLED = process.env.TCPCONNECT_TEST_INSTALLED;
export const CLI = INSTALLED
  ? path.join(INSTALLED, 'bin', 'tcpconnect')
  : path.join(ROOT, 'dist', 'bin', 'tcpconnect.js');
export const ACCEPT_CLI = INSTALLED
  ? path.join(INSTALLED, 'bin', 'tcpaccept')
  : path.join(ROOT, 'dist', 'bin', 'tcpaccept.js');
const CONNECTOR = path.join(ROOT, 'test', 'e2e', 'connector.mjs');
export const NOBODY = 65534;

/** TCPCONNECT_TEST_ATTACH=kprobe or tracepoint forces a method (the VM stage runs both); by default the tool chooses, as a user's would. */
const METHOD = process.env.TCPCONNECT_TEST_ATTACH;
export const ATTACH = METHOD ? ['--attach', METHOD] : [];

function unavailable(): string | undefined {
  if (process.geteuid?.() !== 0) return 'not running as root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF';
  if (!INSTALLED && addonPath() === null) return 'addon not built; run npm run build';
  if (!existsSync(CLI)) return `CLI not built (${CLI}); run npm run build`;
  return undefined;
}

/** describe() for tests that need root and BPF: fails under CI=true, skips elsewhere. */
export function describeE2E(name: string, body: () => void): void {
  const reason = unavailable();
  if (!reason) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => it('has what end-to-end tests need', () => expect.fail(reason)));
  } else {
    console.warn(`skipping end-to-end tests "${name}": ${reason}`);
    describe.skip(name, body);
  }
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ToolRun>();

/** Stops every run a test left behind (a failed assertion skips its stop()). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop('SIGKILL')));
}

/** One run of the real CLI, its stdout a pipe read line by line. */
export class ToolRun {
  stdout = '';
  stderr = '';
  private exited: Promise<Finished>;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly proc: ChildProcess,
    private readonly headerLines: number,
  ) {
    proc.stdout!.setEncoding('latin1').on('data', (d: string) => this.feed(() => (this.stdout += d)));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => this.feed(() => (this.stderr += d)));
    running.add(this);
    this.exited = new Promise((resolve) =>
      proc.on('close', (code, signal) => {
        running.delete(this);
        this.feed(() => {});
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      }),
    );
  }

  private feed(apply: () => void) {
    apply();
    for (const w of this.waiters.splice(0)) w();
  }

  /** Starts the CLI (tcpconnect unless told) and waits for its header (programs attached). */
  static start(args: string[], headerLines = 2, cli = CLI, env: NodeJS.ProcessEnv = {}): Promise<ToolRun> {
    return ToolRun.spawn(process.execPath, [cli, ...args], headerLines, 10000, env);
  }

  /** Starts any tracer (bcc's too) and waits for its first headerLines lines. */
  static async spawn(
    command: string,
    args: string[],
    headerLines = 2,
    timeoutMs = 10000,
    env: NodeJS.ProcessEnv = {},
  ): Promise<ToolRun> {
    const run = new ToolRun(
      spawn(command, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
      }),
      headerLines,
    );
    await run.waitUntil(() => run.stdout.split('\n').length > headerLines || run.proc.exitCode !== null, timeoutMs);
    if (run.proc.exitCode !== null) throw new Error(`${command} exited early: ${run.stderr}`);
    return run;
  }

  /** Lines after the banner and header. */
  rows(): string[] {
    return this.stdout.split('\n').slice(this.headerLines, -1);
  }

  waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
      }, timeoutMs * SLOW);
      const check = () => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  async waitForRow(match: (row: string) => boolean, timeoutMs = 5000): Promise<string> {
    await this.waitUntil(() => this.rows().some(match), timeoutMs);
    return this.rows().find(match)!;
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Finished> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/**
 * Starts the CLI in a mount namespace of its own with no cgroup2 mounted:
 * -L and -j on tracepoints then hold each row for the SYN's net_dev_queue,
 * as on a host without cgroup v2.
 */
export function startWithoutCgroup2(args: string[], headerLines = 2): Promise<ToolRun> {
  const script = `awk '/ - cgroup2 / {print $5}' /proc/self/mountinfo | while read -r m; do umount -l "$m"; done; exec "$0" "$@"`;
  return ToolRun.spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, CLI, ...args],
    headerLines,
  );
}

export interface Connected {
  pid: number;
  localPort: number | null;
  /** every connect's, in order (opts.count) */
  localPorts: Array<number | null>;
  error: string | null;
  /** the last connect's wall time in ms, from the call to its outcome */
  ms: number;
}

/** One connect (or opts.count, one after another) from a child process named `comm`, as `uid`, optionally in a netns or on one CPU, or closed if not connected after abortAfterMs. */
export function connectFrom(
  comm: string,
  host: string,
  port: number,
  opts: { uid?: number; netns?: string; count?: number; cpu?: number; abortAfterMs?: number; startAt?: number } = {},
): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const argv = [
      CONNECTOR,
      comm,
      host,
      String(port),
      ...(opts.count ? ['--count', String(opts.count)] : []),
      ...(opts.abortAfterMs !== undefined ? ['--abort-after', String(opts.abortAfterMs)] : []),
      ...(opts.startAt !== undefined ? ['--start-at', String(opts.startAt)] : []),
    ];
    const child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
      : opts.cpu !== undefined
        ? spawn('taskset', ['-c', String(opts.cpu), process.execPath, ...argv], {
            stdio: ['ignore', 'pipe', 'inherit'],
          })
        : spawn(process.execPath, argv, { uid: opts.uid, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`connector printed ${JSON.stringify(out)}`));
      }
    });
  });
}

/**
 * A child that connects when told to, so its PID is known beforehand (and
 * it can be moved into a cgroup first). `wrap` runs it under another
 * command that execs it, such as ['unshare', '-m'].
 */
export async function armedConnector(
  comm: string,
  host: string,
  port: number,
  wrap: string[] = [],
): Promise<{ pid: number; fire: () => Promise<Connected> }> {
  const argv = [process.execPath, CONNECTOR, comm, host, String(port), '--wait'];
  const [cmd, ...args] = [...wrap, ...argv];
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let onData = () => {};
  child.stdout!.on('data', (d) => {
    out += d;
    onData();
  });
  await new Promise<void>((resolve) => (onData = () => out.includes('ready\n') && resolve()));
  return {
    pid: child.pid!,
    fire: () =>
      new Promise((resolve) => {
        child.on('close', () => resolve(JSON.parse(out.slice(out.indexOf('\n') + 1))));
        child.stdin!.end('go\n');
      }),
  };
}

/** Listeners on 127.0.0.1 and ::1 that accept and close. */
export async function listeners(): Promise<{ v4: number; v6: number; close: () => void }> {
  const listen = (host: string) =>
    new Promise<net.Server>((resolve) => {
      const srv = net.createServer((s) => s.destroy());
      srv.listen(0, host, () => resolve(srv));
    });
  const [a, b] = await Promise.all([listen('127.0.0.1'), listen('::1')]);
  return {
    v4: (a.address() as net.AddressInfo).port,
    v6: (b.address() as net.AddressInfo).port,
    close: () => {
      a.close();
      b.close();
    },
  };
}

/** A port on loopback with nothing listening (connects to it are refused). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Names of BPF programs loaded in the kernel. */
/** Types of the loaded maps named `name` (bpftool's names: ringbuf, perf_event_array...). */
export function loadedMapTypes(name: string): string[] {
  const list = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'list'], { encoding: 'utf8' })) as Array<{
    name?: string;
    type?: string;
  }>;
  return list.filter((m) => m.name === name).map((m) => m.type ?? '');
}

export function loadedPrograms(): string[] {
  const list = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'list'], { encoding: 'utf8' })) as Array<{
    name?: string;
  }>;
  return list.map((p) => p.name ?? '');
}

/** Our programs loaded now (tcpc_*, tcpa_*), by whichever process. */
export function ourPrograms(): string[] {
  return loadedPrograms().filter((n) => /^tcp[ca]_/.test(n));
}

/**
 * Our programs still loaded after a run ended, once the kernel has freed what
 * it frees late: a raw tracepoint's link is released after an RCU grace
 * period, so its program can be listed for a moment after the process exits.
 * Waits up to 5 s (a loaded machine's grace period; x SLOW) for none to remain.
 */
export async function ourProgramsAfterExit(): Promise<string[]> {
  let ours = ourPrograms();
  for (const deadline = Date.now() + 5000 * SLOW; ours.length > 0 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 50));
    ours = ourPrograms();
  }
  return ours;
}

/** bcc's row: "%-7d %-12.12s %-2d %-16s %-16s %-6d " */
export function bccRow(pid: number, comm: string, ip: number, saddr: string, daddr: string, dport: number): string {
  return `${String(pid).padEnd(7)} ${comm.slice(0, 12).padEnd(12)} ${String(ip).padEnd(2)} ${saddr.padEnd(16)} ${daddr.padEnd(16)} ${String(dport).padEnd(6)} `;
}
