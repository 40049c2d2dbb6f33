// SPDX-License-Identifier: Apache-2.0
//
// How records leave the kernel, chosen once here, and the stream of
// ordered batches from the addon's reader to the rows on stdout.

import { bpfFailure } from './attach.js';
import type { NativeBinding, NativeRowWriter, NativeTracer } from './native.js';
import type { Io } from './run.js';

/**
 * Newest first:
 *  - 'per-cpu-rings': a BPF ring buffer per CPU (5.10+), so that CPUs
 *    connecting at once share no lock; the reader merges the rings by
 *    the records' stamps;
 *  - 'shared-ring': one ring buffer for every CPU (5.8+), in the order the
 *    records were sent whatever their CPUs (-d: a DNS answer must be read
 *    before the connect it names);
 *  - 'perf-buffer': a perf event array, one ring per CPU, merged by stamp too.
 */
export type Transport = 'per-cpu-rings' | 'shared-ring' | 'perf-buffer';
const NEWEST_FIRST: readonly Transport[] = ['per-cpu-rings', 'shared-ring', 'perf-buffer'];

interface TransportNeeds {
  /** records must reach user space in the order they were sent, across CPUs (-d) */
  ordered: boolean;
  /** the tool prints when a record was made (-t, -d) */
  stamped: boolean;
}

export interface TransportChoice {
  transport: Transport;
  /** bpf/common.bpf.h's switches for it: use_ringbuf, per_cpu_rings, want_ts */
  rodata: Record<string, Buffer>;
}

/**
 * The newest transport the kernel has and the tool's needs allow, but no
 * newer than `cap` (a test switch: to run the older paths on a new kernel).
 * Records are stamped when the tool prints time or when the reader must
 * merge several rings by time.
 */
export function chooseTransport(
  kernel: Pick<NativeBinding, 'ringBufferSupported' | 'perCpuRingsSupported'>,
  needs: TransportNeeds,
  cap?: Transport,
): TransportChoice {
  const allowed = (t: Transport): boolean => {
    if (cap && NEWEST_FIRST.indexOf(t) < NEWEST_FIRST.indexOf(cap)) return false;
    if (t === 'per-cpu-rings') return !needs.ordered && kernel.ringBufferSupported() && kernel.perCpuRingsSupported();
    if (t === 'shared-ring') return kernel.ringBufferSupported();
    return true;
  };
  const transport = NEWEST_FIRST.find(allowed) ?? 'perf-buffer';
  const flag = (on: boolean) => Buffer.from([on ? 1 : 0]);
  return {
    transport,
    rodata: {
      use_ringbuf: flag(transport !== 'perf-buffer'),
      per_cpu_rings: flag(transport === 'per-cpu-rings'),
      want_ts: flag(needs.stamped || transport !== 'shared-ring'),
    },
  };
}

/**
 * Starts the tracer's reader and prints a row for every connect record of
 * each batch it hands over (in time order already): the rows are made by
 * the addon's RowWriter and written out in one piece. `suffixes`, if
 * given, reads the batch first and gives each connect record its suffix
 * (tcpconnect -d). Losses and malformed records are said on stderr (bcc's
 * "Possibly lost N samples"); with `lostLine`, losses on stdout too (-j).
 * Returns a writer of more batches the same way (-R's pending rows at a stop).
 */
export function streamRows(
  prog: string,
  tracer: NativeTracer,
  io: Io,
  rows: NativeRowWriter,
  out: { suffixes?: (batch: Buffer) => string[]; lostLine?: (count: number) => string } = {},
): (batch: Buffer) => void {
  const onEvents = (batch: Buffer | null, lost: number, malformed: number): void => {
    if (lost) {
      io.err(`Possibly lost ${lost} samples`);
      if (out.lostLine) io.out(out.lostLine(lost));
    }
    if (malformed) io.err(`${prog}: skipped ${malformed} malformed records`);
    if (!batch) return;
    const text = rows.format(batch, Date.now(), out.suffixes?.(batch));
    if (text.length) io.out(text);
  };
  try {
    tracer.start(onEvents);
  } catch (err) {
    throw bpfFailure(prog, err);
  }
  return (batch) => onEvents(batch, 0, 0);
}
