// SPDX-License-Identifier: Apache-2.0
//
// Text that others choose (a DNS name from the network, a cgroup directory
// a delegated user named), made safe to print: in a column its control
// characters (C0, DEL, C1) come out as \xNN, so that it cannot move the
// cursor, colour the terminal or start a row of its own; in JSON it is a
// string with those escaped. (COMM is escaped in C: native/rows.cc.)

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it finds
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** A column's text: control characters as \xNN. */
export const printable = (text: string): string =>
  text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** A JSON string (or null); JSON.stringify leaves DEL and C1 raw: those as \u00NN too. */
export const jsonText = (text: string | null): string =>
  JSON.stringify(text).replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);

/** Text as the RowWriter takes it: its UTF-8 bytes, one per char. */
export const rowBytes = (text: string): string => Buffer.from(text).toString('latin1');
