// SPDX-License-Identifier: Apache-2.0
//
// The typed face of the addon (native/). Loaded lazily, so that --help and
// usage errors work even where it was never built.

import { createRequire } from 'node:module';

import { FatalError } from './errors.js';
import type { Transport } from './events.js';
import { PACKAGE_ROOT } from './package.js';

export interface TracerSpec {
  /** rodata variable name -> its bytes (exactly the variable's size) */
  rodata: Record<string, Buffer>;
  /** programs to load; the others in the object are not loaded */
  programs: string[];
  /** entries written to the object's maps after load, before anything attaches (--cgroup's directory fds) */
  mapUpdates?: Array<{ map: string; key: Buffer; value: Buffer }>;
  /** map name -> the fd of a pinned map to use in its place (openPinnedMap's) */
  reuseMaps?: Record<string, number>;
  /** how records come up (src/events.ts chooses) */
  transport: Transport;
}

export interface NativeTracer {
  /** Attaches every program named, or none of them (throws). Cgroup programs (sock_ops) attach to cgroupRoot. */
  attach(programs: string[], cgroupRoot?: string): void;
  /**
   * Reads the records, one call per read with a batch in time order (or
   * null), and what was lost or malformed since the last call. The batch
   * is lent: it reads as empty once onEvents returns.
   */
  start(onEvents: (batch: Buffer | null, lost: number, malformed: number) => void): void;
  /** Detaches every program, then hands onEvents what is left to read, holding nothing back (a stop's last read). */
  drain(): void;
  /** Every entry of a map, as [key, value]; a per-CPU map's value holds every CPU's, each 8-byte aligned. */
  readMap(map: string): Array<[Buffer, Buffer]>;
  /** Detaches and unloads everything; idempotent. */
  close(): void;
}

/** A record field a row prints; see native/rows.cc. */
export type RowField =
  | 'pid'
  | 'uid'
  | 'task'
  | 'ip'
  | 'saddr'
  | 'daddr'
  | 'lport'
  | 'dport'
  | 'seconds' // since the first row written (-t)
  | 'clock' // HH:MM:SS of the wall clock when printed (tcpaccept -T)
  | 'suffix' // text the caller gives (-d's QUERY)
  | 'tid'
  | 'isotime' // RFC 3339 UTC of the record's stamp (-j)
  | 'taskjson' // the whole COMM as a JSON string (-j)
  | 'who' // the text the RowWriter's who() gives for the record's cgroup (-C, -j)
  | 'mntns'
  | 'netns'
  | 'latency' // milliseconds from the SYN to the outcome (-R, -x)
  | 'result' // OK, PENDING or the errno's name
  | 'errno'; // 0 for OK, null while pending (-j)

/** A row, piece by piece: literal text, or a field with its printf conversion. */
export type RowPiece =
  | { text: string }
  | { field: RowField; conv: 's' | 'd' | 'f'; width: number; precision: number; left: boolean };

export interface NativeRowWriter {
  /**
   * A row and a newline for every connect record of a batch, in batch
   * order; DNS answers left out. suffixes: one per connect record, for the
   * 'suffix' field (else ''). The text is lent: it reads as empty after the
   * next format() call.
   */
  format(batch: Buffer, nowMs: number, suffixes?: string[]): Buffer;
}

interface RecordLayout<F extends string> {
  size: number;
  offsets: Record<F, number>;
}

/** bpf/records.h, as the compiler laid it out. */
export interface NativeRecords {
  event: RecordLayout<
    | 'ts_ns'
    | 'kind'
    | 'pid'
    | 'uid'
    | 'lport'
    | 'dport'
    | 'saddr'
    | 'daddr'
    | 'ip'
    | 'tid'
    | 'task'
    | 'cgroup_id'
    | 'mntns'
    | 'netns'
    | 'err'
    | 'lat_us'
  >;
  dnsEvent: RecordLayout<'ts_ns' | 'kind' | 'len' | 'payload'>;
  ipv4FlowKey: RecordLayout<'saddr' | 'daddr' | 'dport'>;
  ipv6FlowKey: RecordLayout<'saddr' | 'daddr' | 'dport'>;
  /** a batch's records are each this u32 length, then the record */
  frameBytes: number;
  recordConnect: number;
  recordDns: number;
  /** struct event's err of a connect whose outcome was not known when tracing stopped */
  resultPending: number;
  taskCommLen: number;
  dnsMaxPayload: number;
  countMapEntries: number;
  portBitmapBytes: number;
  maxCgroupFilters: number;
  maxNetnsFilters: number;
}

export interface NativeBinding {
  Tracer: new (object: string, spec: TracerSpec) => NativeTracer;
  /** who: the 'who' field's text for a cgroup id, and whether to keep it (asked once per cgroup if so) */
  RowWriter: new (
    pieces: RowPiece[],
    who?: (cgroupId: bigint) => [text: string, keep: boolean],
  ) => NativeRowWriter;
  records: NativeRecords;
  /** a 4-byte (IPv4) or 16-byte (IPv6) address as the rows print it */
  addressText(bytes: Uint8Array): string;
  /** whether the kernel has BPF ring buffers (5.8+) */
  ringBufferSupported(): boolean;
  /** whether it can hold ring buffers in a map, one per CPU (5.10+) */
  perCpuRingsSupported(): boolean;
  /** whether a sock_ops program may read the connecting task (bpf/tcpconnect.bpf.c's tcpc_connect_cb; 6.18, not 6.1 or 6.12) */
  connectRowsSupported(): boolean;
  /** The pinned object at path, opened once: its fd (the caller's to close) and what it is. */
  openPinnedMap(path: string): { fd: number; isMap: boolean; type?: number; keySize?: number };
  /** The kind of namespace the nsfs file at path is ('net', 'mnt', ...), or null if it is none (ioctl NS_GET_NSTYPE). */
  namespaceType(path: string): string | null;
  /** The reader's ordering of records read as these runs (one per ring): for tests. */
  collate(runs: Buffer[][], cutoffNs: bigint): { batch: Buffer; held: Buffer; malformed: number };
}

interface NodeGypBuild {
  /** the addon's file: build/Release's in a checkout, else the prebuild that fits (a release) */
  resolve(dir: string): string;
}

/** The addon node-gyp-build picks for this package, or null when there is none to load. */
export function addonPath(): string | null {
  try {
    return (createRequire(import.meta.url)('node-gyp-build') as NodeGypBuild).resolve(PACKAGE_ROOT);
  } catch {
    return null;
  }
}

/** The shared libraries the addon links, and the Debian/Ubuntu packages that have them. */
const LIBRARY_PACKAGES: Record<string, string> = {
  'libbpf.so.1': 'libbpf1',
  'libelf.so.1': 'libelf1',
  'libz.so.1': 'zlib1g',
};

/** Why the addon at file would not load, in one line: which library is missing, when that is why. */
export function loadFailure(file: string, err: unknown): string {
  const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  // ld.so's words: "[/lib/...]libbpf.so.1: cannot open shared object file: ..." or ": file too short".
  const lib = detail.match(/^(?:\S*\/)?(lib[\w+.-]*\.so(?:\.\d+)*): (.+)$/);
  if (lib) {
    const pkg = LIBRARY_PACKAGES[lib[1]];
    return `cannot load ${lib[1]} (${lib[2]}), which the native module needs; install ${pkg ?? 'the package that has it'}`;
  }
  return `cannot load the native module ${file} (${detail}); build it with: npm run build`;
}

let binding: NativeBinding | undefined;

/** The addon; a FatalError, worded for tool's stderr, when it cannot be loaded. */
export function loadNative(tool = 'tcpconnect'): NativeBinding {
  if (binding) return binding;
  const file = addonPath();
  if (file === null)
    throw new FatalError(
      `${tool}: no native module for ${process.platform}-${process.arch} in ${PACKAGE_ROOT}; build it with: npm run build`,
    );
  try {
    binding = createRequire(import.meta.url)(file) as NativeBinding;
  } catch (err) {
    throw new FatalError(`${tool}: ${loadFailure(file, err)}`);
  }
  return binding;
}
