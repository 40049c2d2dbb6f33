// SPDX-License-Identifier: Apache-2.0
//
// dist/bin/tcpconnect.js and tcpaccept.js as one file each (plus a chunk for
// what only -d loads): Node then starts them without resolving and reading
// some thirty modules, which was a quarter of the time to the header.
// esbuild strips the types; `npm run typecheck` (tsc) checks them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Chunk names carry a hash: last build's would stay beside this one's.
fs.rmSync(path.join(root, 'dist', 'bin'), { recursive: true, force: true });

await build({
  entryPoints: ['tcpconnect', 'tcpaccept'].map((tool) => path.join(root, 'src', 'bin', `${tool}.ts`)),
  outdir: path.join(root, 'dist', 'bin'),
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // dns-packet is CommonJS: its require() of Node's modules needs a require.
  banner: {
    js: "import { createRequire as __tcpconnectRequire } from 'node:module';\nconst require = __tcpconnectRequire(import.meta.url);",
  },
});
