#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The tcpaccept executable.
import { main } from '../run.js';
import { TCPACCEPT } from '../tcpaccept.js';

main(TCPACCEPT);
