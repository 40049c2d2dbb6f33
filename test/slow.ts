// SPDX-License-Identifier: Apache-2.0
//
// Emulated CPUs (the VM stage sets TCPCONNECT_TEST_SLOW) run everything
// several times slower, more so on a loaded host. vitest.config.ts scales
// the test timeouts by this, test/e2e/harness.ts its waits.
export const SLOW = process.env.TCPCONNECT_TEST_SLOW ? 4 : 1;
