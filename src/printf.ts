// SPDX-License-Identifier: Apache-2.0
//
// The subset of C/Python printf that bcc's tools use for their output:
// %[-][width][.precision](s|d|f) and %%. Text is latin1 "byte strings" (one
// byte per char code, as Python's b"%-12.12s"), so widths count bytes.
//
// Formats are cut into pieces here (parseFormat): rows are printed by the
// addon (native/rows.cc) from those pieces. Headers and -c's table, which
// print text and integers only, are printed here with sprintf.

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

function convert(p: Exclude<FormatPiece, { text: string }>, arg: PrintfArg): string {
  if (p.conv === 'f') throw new Error('sprintf: %f is printed by the rows (native/rows.cc), not here');
  const text =
    p.conv === 's' ? String(arg) : typeof arg === 'bigint' ? arg.toString() : Math.trunc(Number(arg)).toString();
  const cut = p.conv === 's' && p.precision >= 0 ? text.slice(0, p.precision) : text;
  return p.left ? cut.padEnd(p.width) : cut.padStart(p.width);
}

/** Python's `format % args`, for %s and %d. */
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
