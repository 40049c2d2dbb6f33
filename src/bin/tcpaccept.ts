#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The tcpaccept executable.
import { main } from '../process-io.js';
import { run } from '../tcpaccept.js';

main('tcpaccept', run);
