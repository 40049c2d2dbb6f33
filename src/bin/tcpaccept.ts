#!/usr/bin/env -S node --inspect-port=0.0.0.1:9229
// SPDX-License-Identifier: Apache-2.0
// The tcpaccept executable. Node opens its inspector on SIGUSR1 until run.ts
// handles the signal, ~50 ms in; here it can only try 0.0.0.1, an address
// no host has unless root gives it one, and fails.
import { main } from '../run.js';
import { TCPACCEPT } from '../tcpaccept.js';

main(TCPACCEPT);
