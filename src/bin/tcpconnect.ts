#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The tcpconnect executable.
import { main } from '../run.js';
import { TCPCONNECT } from '../tcpconnect.js';

main(TCPCONNECT);
