// SPDX-License-Identifier: Apache-2.0
//
// The typed face of the addon (native/). Loaded lazily, so that --help and
// usage errors work even where it was never built.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';

import { FatalError } from './errors.js';

export interface TracerSpec {
  /** rodata variable name -> its bytes (exactly the variable's size) */
  rodata: Record<string, Buffer>;
  /** programs to load; the others in the object are not loaded */
  programs: string[];
  /** map name -> path of a pinned map to use in its place */
  reuseMaps?: Record<string, string>;
  /** ring buffer maps to create as perf event arrays (kernels before 5.8) */
  perfEventArrays?: string[];
  /** an array of ring buffers to make one entry per CPU (start() fills it) */
  perCpuRings?: string;
  /** maps the programs will not use in this mode: made one-entry arrays */
  unusedMaps?: string[];
}

export interface StartOptions {
  /** a perf event array's pages per CPU */
  pagesPerCpu: number;
  /** a ring buffer's loss counter: an array map whose entry 0 is a u64 */
  lostMap?: string;
}

export interface NativeTracer {
  /** Attaches every program named, or none of them (throws). */
  attach(programs: string[]): void;
  /**
   * Reads the ring buffer, the array of per-CPU ring buffers, or the perf
   * event array `map`; one call per read. The
   * batch is lent: it reads as empty once onEvents returns.
   */
  start(map: string, options: StartOptions, onEvents: (batch: Buffer | null, lost: number) => void): void;
  /** Every entry of a map, as [key, value]; a per-CPU map's value holds every CPU's, each 8-byte aligned. */
  readMap(map: string): Array<[Buffer, Buffer]>;
  /** Detaches and unloads everything; idempotent. */
  close(): void;
}

/** A record field a row prints; see native/rows.cc. */
export type RowField =
  | 'pid' | 'uid' | 'task' | 'ip' | 'saddr' | 'daddr' | 'lport' | 'dport'
  | 'seconds' // since the first row written (-t)
  | 'clock' // HH:MM:SS of the wall clock when printed (tcpaccept -T)
  | 'suffix'; // text the caller gives (-d's QUERY)

/** A row, piece by piece: literal text, or a field with its printf conversion. */
export type RowPiece =
  | { text: string }
  | { field: RowField; conv: 's' | 'd' | 'f'; width: number; precision: number; left: boolean };

export interface NativeRowWriter {
  /**
   * A row and a newline for every connect record of a batch, in time order;
   * DNS answers left out, anything else counted as malformed. suffixes: one
   * per connect record, in batch order, for the 'suffix' field (else '').
   * text is lent: it reads as empty after the next format() call.
   */
  format(batch: Buffer, nowMs: number, suffixes?: string[]): { text: Buffer; malformed: number };
}

export interface RecordLayout {
  size: number;
  offsets: Record<string, number>;
}

export interface NativeBinding {
  Tracer: new (object: string, spec: TracerSpec) => NativeTracer;
  RowWriter: new (pieces: RowPiece[]) => NativeRowWriter;
  layouts: {
    tcpconnectEvent: RecordLayout;
    dnsEvent: RecordLayout;
    ipv4FlowKey: RecordLayout;
    ipv6FlowKey: RecordLayout;
  };
  portBitmapBytes: number;
  /** whether the kernel has BPF ring buffers (5.8+) */
  ringBufferSupported(): boolean;
  /** whether it can hold ring buffers in a map, one per CPU (5.10+) */
  perCpuRingsSupported(): boolean;
  pinnedMapInfo(path: string): { isMap: boolean; type?: number; keySize?: number; valueSize?: number; maxEntries?: number };
}

/**
 * build/Release/tcpconnect.node of the package this code is in: the
 * nearest one up from here (src/, dist/, or the bundle's dist/bin/chunks/).
 */
function findAddon(): string {
  const rel = path.join('build', 'Release', 'tcpconnect.node');
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start, up = 0; up < 4; dir = path.dirname(dir), up++) {
    if (fs.existsSync(path.join(dir, rel))) return path.join(dir, rel);
  }
  return path.resolve(start, '..', rel);
}

export const ADDON_PATH = findAddon();

let binding: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)(ADDON_PATH) as NativeBinding;
  } catch (err) {
    const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new FatalError(`cannot load the native module ${ADDON_PATH} (${detail}); build it with: npm run build`);
  }
  return binding;
}
