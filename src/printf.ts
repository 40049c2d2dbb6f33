// SPDX-License-Identifier: Apache-2.0
//
// The subset of C/Python printf that bcc's tools use for their output:
// %[-][width][.precision](s|d|f) and %%. Text is latin1 "byte strings" (one
// byte per char code, as Python's b"%-12.12s"), so widths count bytes.
//
// Headers and -c's table are printed with sprintf. Rows are printed by the
// addon (native/rows.cc) from the same formats, cut into pieces here.

const SPEC = /%(-?)(\d*)(?:\.(\d+))?([sdf%])/g;

export type PrintfArg = string | number | bigint;

/** One piece of a format: literal text, or one conversion. */
export type FormatPiece =
  | { text: string }
  | { conv: 's' | 'd' | 'f'; width: number; precision: number /* -1: none */; left: boolean };

/** A format cut into its pieces: "%-7d %s" is a conversion, a space, a conversion. */
export function parseFormat(format: string): FormatPiece[] {
  const pieces: FormatPiece[] = [];
  let last = 0;
  for (const m of format.matchAll(SPEC)) {
    if (m.index! > last) pieces.push({ text: format.slice(last, m.index) });
    if (m[4] === '%') pieces.push({ text: '%' });
    else
      pieces.push({
        conv: m[4] as 's' | 'd' | 'f',
        width: m[2] === '' ? 0 : Number(m[2]),
        precision: m[3] === undefined ? -1 : Number(m[3]),
        left: m[1] === '-',
      });
    last = m.index! + m[0].length;
  }
  if (last < format.length) pieces.push({ text: format.slice(last) });
  return pieces;
}

function pad(text: string, width: number, left: boolean): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function convert(p: Exclude<FormatPiece, { text: string }>, arg: PrintfArg): string {
  switch (p.conv) {
    case 's': {
      const text = String(arg);
      return pad(p.precision >= 0 ? text.slice(0, p.precision) : text, p.width, p.left);
    }
    case 'd':
      return pad(typeof arg === 'bigint' ? arg.toString() : Math.trunc(Number(arg)).toString(), p.width, p.left);
    default:
      return pad(toFixedHalfEven(Number(arg), p.precision < 0 ? 6 : p.precision), p.width, p.left);
  }
}

/** Python's `format % args`, for the formats above. */
export function sprintf(format: string, ...args: PrintfArg[]): string {
  let n = 0;
  let out = '';
  for (const p of parseFormat(format)) {
    if ('text' in p) {
      out += p.text;
      continue;
    }
    if (n >= args.length) throw new Error(`sprintf: too few arguments for ${JSON.stringify(format)}`);
    out += convert(p, args[n++]);
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
