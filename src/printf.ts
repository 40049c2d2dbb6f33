// SPDX-License-Identifier: Apache-2.0
//
// The subset of C/Python printf that bcc's tools use for their output:
// %[-][width][.precision](s|d|f) and %%. Output strings are latin1 "byte
// strings", so widths count bytes as Python's b"%-12.12s" does.
//
// A format is compiled once into a function made for it (one expression of
// literals and conversions, no loop over pieces), because rows are
// formatted once per event: at a connect storm's rate that is what the
// tracer spends most of its time on.

const SPEC = /%(-?)(\d*)(?:\.(\d+))?([sdf%])/g;

export type PrintfArg = string | number | bigint;

export type Formatter = (...args: PrintfArg[]) => string;

const SPACES = ' '.repeat(256);

/** What the generated code calls. */
const helpers = {
  padEnd: (text: string, width: number): string =>
    text.length >= width ? text : width - text.length <= SPACES.length ? text + SPACES.slice(0, width - text.length) : text.padEnd(width),
  padStart: (text: string, width: number): string =>
    text.length >= width ? text : width - text.length <= SPACES.length ? SPACES.slice(0, width - text.length) + text : text.padStart(width),
  int: (arg: PrintfArg): string =>
    typeof arg === 'number' && Number.isInteger(arg) ? `${arg}` : typeof arg === 'bigint' ? arg.toString() : Math.trunc(Number(arg)).toString(),
  fixed: (arg: PrintfArg, digits: number): string => toFixedHalfEven(Number(arg), digits),
  tooFew: (format: string): never => {
    throw new Error(`sprintf: too few arguments for ${JSON.stringify(format)}`);
  },
};

function conversion(arg: string, left: string, width: string, precision: string | undefined, conv: string): string {
  let text: string;
  switch (conv) {
    case 's':
      text = precision === undefined ? `String(${arg})` : `String(${arg}).slice(0, ${Number(precision)})`;
      break;
    case 'd':
      text = `h.int(${arg})`;
      break;
    default:
      text = `h.fixed(${arg}, ${precision === undefined ? 6 : Number(precision)})`;
  }
  if (width === '') return text;
  return `h.${left ? 'padEnd' : 'padStart'}(${text}, ${Number(width)})`;
}

function compile(format: string): Formatter {
  const parts: string[] = [];
  let last = 0;
  let n = 0;
  for (const m of format.matchAll(SPEC)) {
    if (m.index! > last) parts.push(JSON.stringify(format.slice(last, m.index)));
    if (m[4] === '%') parts.push('"%"');
    else parts.push(conversion(`a${n++}`, m[1], m[2], m[3], m[4]));
    last = m.index! + m[0].length;
  }
  if (last < format.length) parts.push(JSON.stringify(format.slice(last)));
  const params = Array.from({ length: n }, (_, i) => `a${i}`);
  const body = `return function (${params.join(', ')}) {
    if (arguments.length < ${n}) h.tooFew(${JSON.stringify(format)});
    return ${parts.length ? parts.join(' + ') : '""'};
  };`;
  // The code is built only from the format's own literals (JSON-quoted) and
  // numbers parsed out of it: no argument ever becomes code.
  return new Function('h', body)(helpers) as Formatter;
}

const compiled = new Map<string, Formatter>();

/** The function that formats `format`, compiled once. */
export function formatter(format: string): Formatter {
  let f = compiled.get(format);
  if (!f) compiled.set(format, (f = compile(format)));
  return f;
}

export function sprintf(format: string, ...args: PrintfArg[]): string {
  return formatter(format)(...args);
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
