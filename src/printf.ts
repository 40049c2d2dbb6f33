// SPDX-License-Identifier: Apache-2.0
//
// The subset of C/Python printf that bcc's tools use for their output:
// %[-][width][.precision](s|d|f) and %%. Output strings are latin1 "byte
// strings", so widths count bytes as Python's b"%-12.12s" does.

const SPEC = /%(-?)(\d*)(?:\.(\d+))?([sdf%])/g;

export type PrintfArg = string | number | bigint;

type Piece = string | ((arg: PrintfArg) => string);

function conversion(left: string, width: string, precision: string | undefined, conv: string): Piece {
  const w = width === '' ? 0 : Number(width);
  const pad = (text: string) => (left ? text.padEnd(w) : text.padStart(w));
  switch (conv) {
    case 's':
      return precision === undefined
        ? (arg) => pad(String(arg))
        : (arg) => pad(String(arg).slice(0, Number(precision)));
    case 'd':
      return (arg) => pad(typeof arg === 'bigint' ? arg.toString() : Math.trunc(Number(arg)).toString());
    default:
      return (arg) => pad(toFixedHalfEven(Number(arg), precision === undefined ? 6 : Number(precision)));
  }
}

// Formats are parsed once; rows are formatted per event.
const compiled = new Map<string, Piece[]>();

function compile(format: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of format.matchAll(SPEC)) {
    pieces.push(format.slice(last, m.index));
    pieces.push(m[4] === '%' ? '%' : conversion(m[1], m[2], m[3], m[4]));
    last = m.index! + m[0].length;
  }
  pieces.push(format.slice(last));
  return pieces.filter((p) => p !== '');
}

export function sprintf(format: string, ...args: PrintfArg[]): string {
  let pieces = compiled.get(format);
  if (!pieces) compiled.set(format, (pieces = compile(format)));
  let out = '';
  let next = 0;
  for (const p of pieces) {
    if (typeof p === 'string') {
      out += p;
    } else {
      if (next >= args.length) throw new Error(`sprintf: too few arguments for ${JSON.stringify(format)}`);
      out += p(args[next++]);
    }
  }
  return out;
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
