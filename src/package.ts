// SPDX-License-Identifier: Apache-2.0
//
// Where this package is (a checkout, or a release installed by npm), and
// its version: package.json's, which owns it.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory up from this code (src/, dist/bin/ or dist/bin/chunks/) with our package.json. */
function findRoot(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'tcpconnect') return dir;
    } catch {
      // none here, or not ours
    }
  }
  return path.resolve(start, '..');
}

export const PACKAGE_ROOT = findRoot();

/** package.json's version. */
export function version(): string {
  return JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;
}
