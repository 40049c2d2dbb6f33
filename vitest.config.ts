// SPDX-License-Identifier: Apache-2.0
import { configDefaults, defineConfig } from 'vitest/config';

import { SLOW } from './test/slow.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/vm/ runs inside a VM with kprobes, from scripts/vm-stage.sh.
    exclude: [...configDefaults.exclude, 'test/vm/**'],
    // End-to-end tests share the kernel's tracepoints and the loopback ports:
    // run files one after another.
    fileParallelism: false,
    testTimeout: 30000 * SLOW,
    hookTimeout: 30000 * SLOW,
  },
});
