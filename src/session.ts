// SPDX-License-Identifier: Apache-2.0
//
// Open, load and attach one tool's BPF object, choosing the attach method:
// kprobes where the kernel has them, tracepoints where it has not. Errors
// from the native layer become one-line FatalErrors with a hint.

import os from 'node:os';

import { FatalError, bpfErrorData } from './errors.js';
import type { NativeBinding, NativeTracer, TracerSpec } from './native.js';
import type { AttachMethod } from './options.js';

export interface ProbeSet {
  programs: string[];
  /** what the user is told is hooked, e.g. "kprobes on tcp_v4_connect, tcp_v6_connect" */
  hooks: string;
}

export interface AttachPlan {
  tool: string;
  object: string;
  rodata: Record<string, Buffer>;
  reuseMaps?: Record<string, string>;
  kprobe: ProbeSet;
  tracepoint: ProbeSet;
  method: AttachMethod;
  /** records must reach user space in one order across CPUs (-d) */
  ordered?: boolean;
}

export interface Attached {
  tracer: NativeTracer;
  method: 'kprobe' | 'tracepoint';
  /** the one stderr line saying which method is in use */
  notice: string;
  /** the map the records come up through (tracer.start's) */
  eventsMap: string;
}

function strerror(errno: number | undefined): string {
  if (!errno) return 'unknown error';
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0];
  return name ?? `errno ${errno}`;
}

function lastLogLine(log: string | undefined): string {
  const lines = (log ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1] : '';
}

function loadError(tool: string, err: unknown): FatalError {
  const e = bpfErrorData(err);
  if (e.errno === 1 /* EPERM */ || e.errno === 13 /* EACCES */)
    return new FatalError(
      `${tool}: permission denied loading BPF programs (${strerror(e.errno)}); run as root (CAP_BPF, CAP_PERFMON)`,
    );
  if (e.errno === 38 /* ENOSYS */)
    return new FatalError(`${tool}: this kernel has no BPF support (bpf(): ENOSYS); it needs CONFIG_BPF_SYSCALL=y`);
  const detail = lastLogLine(e.log);
  return new FatalError(`${tool}: ${e.message}${detail ? ` (${detail})` : ''}`);
}

/**
 * How records leave the kernel (bpf/common.bpf.h):
 *  - a BPF ring buffer per CPU (5.10+), so that CPUs connecting at once
 *    share no lock; the RowWriter merges the rings' records by timestamp;
 *  - one ring buffer for every CPU (5.8+, or `ordered`: -d needs a DNS
 *    answer read before the connect it names, whatever CPUs they were on);
 *  - a perf event array, one ring per CPU, merged by timestamp too.
 * TCPCONNECT_SHARED_RING=1 and TCPCONNECT_PERF_BUFFER=1 force the latter
 * two, so that tests can run the older paths on a new kernel.
 */
export function eventsTransport(
  native: NativeBinding,
  ordered = false,
  env = process.env,
): Pick<TracerSpec, 'perfEventArrays' | 'perCpuRings' | 'unusedMaps'> & { rodata: Record<string, Buffer>; eventsMap: string } {
  const on = Buffer.from([1]);
  if (!native.ringBufferSupported() || env.TCPCONNECT_PERF_BUFFER === '1')
    return {
      rodata: { use_ringbuf: Buffer.from([0]), want_ts: on },
      perfEventArrays: ['events'],
      unusedMaps: ['events_per_cpu'],
      eventsMap: 'events',
    };
  if (ordered || env.TCPCONNECT_SHARED_RING === '1' || !native.perCpuRingsSupported())
    return { rodata: { use_ringbuf: on }, unusedMaps: ['events_per_cpu'], eventsMap: 'events' };
  return {
    rodata: { use_ringbuf: on, per_cpu_rings: on, want_ts: on },
    perCpuRings: 'events_per_cpu',
    unusedMaps: ['events'],
    eventsMap: 'events_per_cpu',
  };
}

/** Said when the kernel has neither a kprobe PMU nor kprobe_events. */
export const NO_KPROBES = 'this kernel has no kprobe PMU or kprobe_events';

/**
 * kprobesAvailable: false when the kernel plainly has no kprobes; auto mode
 * then loads only the tracepoint programs (the kprobe set would load, pass
 * the verifier and fail to attach, which costs start-up time for nothing).
 */
export function openAndAttach(native: NativeBinding, plan: AttachPlan, kprobesAvailable = true): Attached {
  const sets: Array<['kprobe' | 'tracepoint', ProbeSet]> =
    plan.method !== 'auto'
      ? [[plan.method, plan[plan.method]]]
      : kprobesAvailable
        ? [
            ['kprobe', plan.kprobe],
            ['tracepoint', plan.tracepoint],
          ]
        : [['tracepoint', plan.tracepoint]];

  const { eventsMap, ...transport } = eventsTransport(native, plan.ordered);
  const spec = (programs: string[]): TracerSpec => ({
    ...transport,
    rodata: { ...plan.rodata, ...transport.rodata },
    reuseMaps: plan.reuseMaps,
    programs,
  });
  let tracer: NativeTracer;
  try {
    // Both sets are loaded in auto mode where kprobes may attach: the kprobe
    // programs pass the verifier even on kernels where they cannot.
    tracer = new native.Tracer(plan.object, spec(sets.flatMap(([, s]) => s.programs)));
  } catch (err) {
    if (plan.method !== 'auto' || sets.length === 1) throw loadError(plan.tool, err);
    try {
      tracer = new native.Tracer(plan.object, spec(plan.tracepoint.programs));
      sets.splice(0, 1);
    } catch {
      throw loadError(plan.tool, err);
    }
  }

  const failures: string[] = plan.method === 'auto' && !kprobesAvailable ? [NO_KPROBES] : [];
  for (const [method, set] of sets) {
    try {
      tracer.attach(set.programs);
      const fallback = failures.length ? ` (kprobes unavailable: ${failures[0]})` : '';
      return { tracer, method, notice: `${plan.tool}: tracing with ${set.hooks}${fallback}`, eventsMap };
    } catch (err) {
      const e = bpfErrorData(err);
      failures.push(`${e.message.replace(/^failed to attach \S+: /, '')}`);
      if (plan.method !== 'auto' || method === 'tracepoint') {
        tracer.close();
        const hint =
          method === 'kprobe'
            ? '; this kernel may lack kprobes (CONFIG_KPROBES): try --attach tracepoint'
            : '';
        throw new FatalError(`${plan.tool}: cannot attach ${set.hooks}: ${failures[failures.length - 1]}${hint}`);
      }
    }
  }
  tracer.close();
  throw new FatalError(`${plan.tool}: nothing to attach`);
}
