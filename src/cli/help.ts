// SPDX-License-Identifier: Apache-2.0
//
// Help and usage text laid out as Python's argparse lays them out (bcc's
// tools use argparse with RawDescriptionHelpFormatter), so `-h` reads as
// bcc's does. The CLI describes its options once, as data; commander parses,
// this renders.

export interface OptionDoc {
  short?: string; // '-p'
  long: string; // '--pid'
  metavar?: string; // 'PID'
  help: string;
  /** options sharing a group are mutually exclusive: [-4 | -6] */
  group?: string;
  /** may be given more than once (argparse's action='append'): its values, in order */
  repeat?: boolean;
}

const WIDTH = 78; // argparse: terminal columns (80 by default) - 2
const MAX_HELP_POSITION = 24;

function usageParts(options: OptionDoc[]): string[] {
  const parts: string[] = ['[-h]'];
  const seen = new Set<string>();
  for (const opt of options) {
    const one = (o: OptionDoc) => `${o.short ?? o.long}${o.metavar ? ` ${o.metavar}` : ''}`;
    if (!opt.group) {
      parts.push(`[${one(opt)}]`);
    } else if (!seen.has(opt.group)) {
      seen.add(opt.group);
      parts.push(
        `[${options
          .filter((o) => o.group === opt.group)
          .map(one)
          .join(' | ')}]`,
      );
    }
  }
  return parts;
}

export function usage(prog: string, options: OptionDoc[]): string {
  const prefix = `usage: ${prog} `;
  const indent = ' '.repeat(prefix.length);
  const lines: string[] = [];
  let line = '';
  for (const part of usageParts(options)) {
    if (line && prefix.length + line.length + 1 + part.length > WIDTH) {
      lines.push(line);
      line = part;
    } else {
      line = line ? `${line} ${part}` : part;
    }
  }
  lines.push(line);
  return prefix + lines.join(`\n${indent}`);
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines;
}

export function help(prog: string, description: string, options: OptionDoc[], epilog: string): string {
  const all: OptionDoc[] = [{ short: '-h', long: '--help', help: 'show this help message and exit' }, ...options];
  const invocation = (o: OptionDoc) =>
    [o.short, o.long]
      .filter(Boolean)
      .map((f) => (o.metavar ? `${f} ${o.metavar}` : f))
      .join(', ');
  const longest = Math.max(...all.map((o) => invocation(o).length + 2));
  const helpPosition = Math.min(longest + 2, MAX_HELP_POSITION);
  const actionWidth = helpPosition - 2 - 2;
  const out: string[] = [usage(prog, options), '', description, '', 'options:'];
  for (const o of all) {
    const inv = invocation(o);
    const helpLines = wrap(o.help, WIDTH - helpPosition);
    if (inv.length <= actionWidth) {
      out.push(`  ${inv.padEnd(actionWidth)}  ${helpLines[0]}`);
    } else {
      out.push(`  ${inv}`, ' '.repeat(helpPosition) + helpLines[0]);
    }
    for (const l of helpLines.slice(1)) out.push(' '.repeat(helpPosition) + l);
  }
  return `${out.join('\n')}\n\n${epilog}\n`;
}
