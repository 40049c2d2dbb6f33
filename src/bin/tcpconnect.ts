#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The tcpconnect executable.
import { main } from '../process-io.js';
import { run } from '../tcpconnect.js';

main('tcpconnect', run);
