// SPDX-License-Identifier: Apache-2.0
//
// Open, load and attach one tool's BPF object, choosing the attach method:
// kprobes where the kernel has them, tracepoints where it has not. Also
// what comes before (root and BTF checked, the shared filters encoded as
// rodata). Errors from the native layer become one-line FatalErrors with a
// hint.

import os from 'node:os';

import type { AttachMethod } from './cli/values.js';
import { bpfErrorData, FatalError } from './errors.js';
import type { TransportChoice } from './events.js';
import { identityWanted } from './identity.js';
import type { NativeBinding, NativeTracer, TracerSpec } from './native.js';
import type { Io } from './run.js';

/**
 * File descriptors a tracer takes: its maps, programs, links, a ring per
 * CPU, and what libbpf opens for a moment while it loads (measured: a
 * running tcpconnect -d -L holds ~20 more than Node alone).
 */
const TRACER_FDS = 32;

/** Root, BTF and room for the tracer's file descriptors, checked before the addon is even loaded. */
export function preflight(prog: string, io: Io): NativeBinding {
  if (io.geteuid() !== 0) throw new FatalError(`${prog}: must be run as root (try: sudo ${prog})`);
  if (!io.btfAvailable())
    throw new FatalError(`${prog}: this kernel has no BTF (/sys/kernel/btf/vmlinux); it needs CONFIG_DEBUG_INFO_BTF=y`);
  const files = io.openFiles();
  if (files.limit - files.open < TRACER_FDS)
    throw new FatalError(
      `${prog}: too many open files: ${files.open} of the limit of ${files.limit} are open, and tracing needs about ${TRACER_FDS} more; raise the limit (ulimit -n)`,
    );
  return io.native();
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export const flag = (on: unknown): Buffer => Buffer.from([on ? 1 : 0]);

/** The rodata of bpf/common.bpf.h's filters (-p, -P as a bit per port, -4/-6), and whether records carry who made them (-C, -j). */
export function commonRodata(
  opts: { pid?: number; ports?: number[]; family: 0 | 4 | 6; container?: boolean; json?: boolean },
  portBitmapBytes: number,
): Record<string, Buffer> {
  const ports = Buffer.alloc(portBitmapBytes);
  for (const p of opts.ports ?? []) ports[p >> 3] |= 1 << (p & 7);
  return {
    filter_pid: u32(opts.pid ?? 0),
    filter_ports_on: flag(opts.ports),
    filter_ports: ports,
    filter_family: Buffer.from([opts.family]),
    want_identity: flag(identityWanted(opts)),
  };
}

interface ProbeSet {
  programs: string[];
  /** what the user is told is hooked, e.g. "kprobes on tcp_v4_connect, tcp_v6_connect" */
  hooks: string;
  /** the cgroup v2 root directory, where the set's sock_ops program attaches */
  cgroupRoot?: string;
}

export interface AttachPlan {
  tool: string;
  object: string;
  rodata: Record<string, Buffer>;
  reuseMaps?: Record<string, number>;
  mapUpdates?: TracerSpec['mapUpdates'];
  kprobe: ProbeSet;
  tracepoint: ProbeSet;
  method: AttachMethod;
}

interface Attached {
  tracer: NativeTracer;
  /** the one stderr line saying which method is in use */
  notice: string;
}

function strerror(errno: number | undefined): string {
  if (!errno) return 'unknown error';
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0];
  return name ?? `errno ${errno}`;
}

function lastLogLine(log: string | undefined): string {
  const lines = (log ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length ? lines[lines.length - 1] : '';
}

/** What the addon threw while loading or starting, as one line that names the cause. */
export function bpfFailure(tool: string, err: unknown): FatalError {
  const e = bpfErrorData(err);
  const { EPERM, EACCES, ENOSYS, EMFILE, ENFILE, ENOMEM } = os.constants.errno;
  if (e.errno === EPERM || e.errno === EACCES)
    return new FatalError(
      `${tool}: permission denied loading BPF programs (${strerror(e.errno)}); run as root (CAP_BPF, CAP_PERFMON)`,
    );
  if (e.errno === ENOSYS)
    return new FatalError(`${tool}: this kernel has no BPF support (bpf(): ENOSYS); it needs CONFIG_BPF_SYSCALL=y`);
  if (e.errno === EMFILE || e.errno === ENFILE)
    return new FatalError(
      `${tool}: too many open files (${strerror(e.errno)}) to ${e.message.replace(/^failed to /, '').replace(/:[^:]*$/, '')}; raise the limit (ulimit -n)`,
    );
  if (e.errno === ENOMEM)
    return new FatalError(
      `${tool}: out of memory for BPF maps or programs (ENOMEM): ${e.message}; raise ulimit -l, or free memory`,
    );
  const detail = lastLogLine(e.log);
  return new FatalError(`${tool}: ${e.message}${detail ? ` (${detail})` : ''}`);
}

/** Said when the kernel has neither a kprobe PMU nor kprobe_events. */
const NO_KPROBES = 'this kernel has no kprobe PMU or kprobe_events';

/**
 * kprobesAvailable: false when the kernel plainly has no kprobes; auto mode
 * then loads only the tracepoint programs (the kprobe set would load, pass
 * the verifier and fail to attach, which costs start-up time for nothing).
 */
export function openAndAttach(
  native: NativeBinding,
  plan: AttachPlan,
  transport: TransportChoice,
  kprobesAvailable = true,
): Attached {
  const sets: Array<['kprobe' | 'tracepoint', ProbeSet]> =
    plan.method !== 'auto'
      ? [[plan.method, plan[plan.method]]]
      : kprobesAvailable
        ? [
            ['kprobe', plan.kprobe],
            ['tracepoint', plan.tracepoint],
          ]
        : [['tracepoint', plan.tracepoint]];

  const spec = (programs: string[]): TracerSpec => ({
    rodata: { ...plan.rodata, ...transport.rodata },
    reuseMaps: plan.reuseMaps,
    mapUpdates: plan.mapUpdates,
    programs,
    transport: transport.transport,
  });
  let tracer: NativeTracer;
  try {
    // Both sets are loaded in auto mode where kprobes may attach: the kprobe
    // programs pass the verifier even on kernels where they cannot.
    tracer = new native.Tracer(plan.object, spec(sets.flatMap(([, s]) => s.programs)));
  } catch (err) {
    if (plan.method !== 'auto' || sets.length === 1) throw bpfFailure(plan.tool, err);
    try {
      tracer = new native.Tracer(plan.object, spec(plan.tracepoint.programs));
      sets.splice(0, 1);
    } catch {
      throw bpfFailure(plan.tool, err);
    }
  }

  const failures: string[] = plan.method === 'auto' && !kprobesAvailable ? [NO_KPROBES] : [];
  for (const [method, set] of sets) {
    try {
      tracer.attach(set.programs, set.cgroupRoot);
      const fallback = failures.length ? ` (kprobes unavailable: ${failures[0]})` : '';
      return { tracer, notice: `${plan.tool}: tracing with ${set.hooks}${fallback}` };
    } catch (err) {
      const e = bpfErrorData(err);
      failures.push(`${e.message.replace(/^failed to attach \S+: /, '')}`);
      if (plan.method !== 'auto' || method === 'tracepoint') {
        tracer.close();
        const hint =
          method === 'kprobe' ? '; this kernel may lack kprobes (CONFIG_KPROBES): try --attach tracepoint' : '';
        throw new FatalError(`${plan.tool}: cannot attach ${set.hooks}: ${failures[failures.length - 1]}${hint}`);
      }
    }
  }
  tracer.close();
  throw new FatalError(`${plan.tool}: nothing to attach`);
}
