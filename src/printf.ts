// SPDX-License-Identifier: Apache-2.0
//
// The subset of C/Python printf that bcc's tools use for their output:
// %[-][width][.precision](s|d|f) and %%. Output is latin1 "byte strings"
// (one byte per char code, as Python's b"%-12.12s"), so widths count bytes.
//
// A format is compiled once into a function made for it, which writes bytes
// straight into a ByteSink: no loop over pieces, and no strings built and
// flattened again for write(). Rows are formatted once per event, and at a
// connect storm's rate that is most of what the tracer does.

const SPEC = /%(-?)(\d*)(?:\.(\d+))?([sdf%])/g;

export type PrintfArg = string | number | bigint;

/** A growable buffer that compiled formats write into. */
export class ByteSink {
  buf: Buffer;
  len = 0;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for n more bytes. */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  /** The first n chars' low bytes, as Buffer.from(text, 'latin1'). */
  text(text: string, n = text.length): void {
    this.reserve(n);
    const { buf } = this;
    let { len } = this;
    for (let i = 0; i < n; i++) buf[len++] = text.charCodeAt(i);
    this.len = len;
  }

  /** n spaces. */
  pad(n: number): void {
    if (n <= 0) return;
    this.reserve(n);
    const { buf } = this;
    let { len } = this;
    for (let i = 0; i < n; i++) buf[len++] = 32; // faster than fill() for a few bytes
    this.len = len;
  }

  /** A copy of what was written, and empty again. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }

  /** What was written, as latin1 text, and empty again. */
  takeText(): string {
    const out = this.buf.toString('latin1', 0, this.len);
    this.len = 0;
    return out;
  }
}

export type ByteFormatter = (sink: ByteSink, ...args: PrintfArg[]) => void;

const scratch = new ByteSink(1024);

/** What `write` writes, as latin1 text. One scratch sink: `write` must not call asText or sprintf. */
export function asText(write: (sink: ByteSink) => void): string {
  write(scratch);
  return scratch.takeText();
}

/** What the generated code calls. */
const helpers = {
  /** text, cut to max chars (max < 0: no cut), padded to width. */
  str(sink: ByteSink, text: string, max: number, width: number, left: boolean): void {
    const n = max >= 0 && text.length > max ? max : text.length;
    if (!left) sink.pad(width - n);
    sink.text(text, n);
    if (left) sink.pad(width - n);
  },
  /** %d: an integer's digits written in place; anything else through its text. */
  int(sink: ByteSink, arg: PrintfArg, width: number, left: boolean): void {
    if (typeof arg !== 'number' || !Number.isSafeInteger(arg) || arg < 0) {
      const text = typeof arg === 'bigint' ? arg.toString() : Math.trunc(Number(arg)).toString();
      helpers.str(sink, text, -1, width, left);
      return;
    }
    let digits = 1;
    for (let v = arg; v >= 10; v = Math.floor(v / 10)) digits++;
    if (!left) sink.pad(width - digits);
    sink.reserve(digits);
    let v = arg;
    for (let i = sink.len + digits - 1; i >= sink.len; i--) {
      sink.buf[i] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    sink.len += digits;
    if (left) sink.pad(width - digits);
  },
  fixed(sink: ByteSink, arg: PrintfArg, digits: number, width: number, left: boolean): void {
    helpers.str(sink, toFixedHalfEven(Number(arg), digits), -1, width, left);
  },
  tooFew(format: string): never {
    throw new Error(`sprintf: too few arguments for ${JSON.stringify(format)}`);
  },
};

function conversion(arg: string, left: string, width: string, precision: string | undefined, conv: string): string {
  const w = width === '' ? 0 : Number(width);
  const l = left ? 'true' : 'false';
  switch (conv) {
    case 's':
      return `h.str(s, typeof ${arg} === 'string' ? ${arg} : String(${arg}), ${precision === undefined ? -1 : Number(precision)}, ${w}, ${l});`;
    case 'd':
      return `h.int(s, ${arg}, ${w}, ${l});`;
    default:
      return `h.fixed(s, ${arg}, ${precision === undefined ? 6 : Number(precision)}, ${w}, ${l});`;
  }
}

function compile(format: string): ByteFormatter {
  const statements: string[] = [];
  let last = 0;
  let n = 0;
  for (const m of format.matchAll(SPEC)) {
    if (m.index! > last) statements.push(`s.text(${JSON.stringify(format.slice(last, m.index))});`);
    if (m[4] === '%') statements.push('s.text("%");');
    else statements.push(conversion(`a${n++}`, m[1], m[2], m[3], m[4]));
    last = m.index! + m[0].length;
  }
  if (last < format.length) statements.push(`s.text(${JSON.stringify(format.slice(last))});`);
  const params = ['s', ...Array.from({ length: n }, (_, i) => `a${i}`)];
  // The code is built only from the format's own literals (JSON-quoted) and
  // numbers parsed out of it: no argument ever becomes code.
  const body = `return function (${params.join(', ')}) {
    if (arguments.length < ${n + 1}) h.tooFew(${JSON.stringify(format)});
    ${statements.join('\n    ')}
  };`;
  return new Function('h', body)(helpers) as ByteFormatter;
}

const compiled = new Map<string, ByteFormatter>();

/** The function that writes `format` into a ByteSink, compiled once. */
export function formatter(format: string): ByteFormatter {
  let f = compiled.get(format);
  if (!f) compiled.set(format, (f = compile(format)));
  return f;
}

/** The same formats, as text. */
export function sprintf(format: string, ...args: PrintfArg[]): string {
  const write = formatter(format);
  return asText((sink) => write(sink, ...args));
}

// Python (and glibc) round the exact binary value, ties to even; JavaScript's
// toFixed breaks exact ties upwards. Exact ties at 3 decimals are the odd
// multiples of 1/16 (0.0625, 0.1875, …); other precisions use toFixed as is,
// which agrees everywhere but on exact ties.
function toFixedHalfEven(x: number, digits: number): string {
  const fixed = x.toFixed(digits);
  if (digits !== 3 || !Number.isFinite(x)) return fixed;
  const sixteenths = Math.abs(x) * 16;
  if (!Number.isInteger(sixteenths) || sixteenths % 2 === 0) return fixed;
  // x = ±m/16 with m odd: ten-thousandths end in 5, round the thousandths to even.
  const tenThousandths = sixteenths * 625;
  let thousandths = Math.floor(tenThousandths / 10);
  if (thousandths % 2 === 1) thousandths += 1;
  const sign = x < 0 ? '-' : '';
  const whole = Math.floor(thousandths / 1000);
  const frac = String(thousandths % 1000).padStart(3, '0');
  return `${sign}${whole}.${frac}`;
}
