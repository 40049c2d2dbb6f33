// SPDX-License-Identifier: Apache-2.0
//
// Test oracle: Python's `format % args` for every conversion bcc's rows use,
// %f included (src/printf.ts does %s and %d, all that headers and tables
// need). The addon's rows are checked against it.
import { type FormatPiece, type PrintfArg, parseFormat, sprintf } from '../../src/printf.js';

export function pySprintf(format: string, ...args: PrintfArg[]): string {
  let n = 0;
  return parseFormat(format)
    .map((p) => ('text' in p ? p.text : convert(p, args[n++])))
    .join('');
}

function convert(p: Exclude<FormatPiece, { text: string }>, arg: PrintfArg): string {
  if (p.conv !== 'f')
    return sprintf(`%${p.left ? '-' : ''}${p.width || ''}${p.precision >= 0 ? `.${p.precision}` : ''}${p.conv}`, arg);
  const text = toFixedHalfEven(Number(arg), p.precision < 0 ? 6 : p.precision);
  return p.left ? text.padEnd(p.width) : text.padStart(p.width);
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
