// SPDX-License-Identifier: Apache-2.0
//
// The decoder's offsets are written in TypeScript; the record is defined in
// C (bpf/tcpconnect.h). The addon reports sizeof/offsetof from the C
// definition, so the two cannot drift apart unnoticed.
import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { FLOW_KEY_LAYOUT } from '../src/count.js';
import { DNS_EVENT_LAYOUT, EVENT_LAYOUT } from '../src/decode.js';
import { ADDON_PATH, loadNative } from '../src/native.js';

const built = existsSync(ADDON_PATH);
if (!built && process.env.CI !== 'true') console.warn(`skipping layout test: ${ADDON_PATH} not built`);

describe.skipIf(!built && process.env.CI !== 'true')('struct event layout', () => {
  it('matches the C definition, field for field', () => {
    const c = loadNative().layouts.tcpconnectEvent;
    expect(c.size).toBe(EVENT_LAYOUT.size);
    expect(c.offsets).toEqual(EVENT_LAYOUT.offsets);
  });

  it('has the DNS record of the C definition', () => {
    expect(loadNative().layouts.dnsEvent).toEqual(DNS_EVENT_LAYOUT);
  });

  it('has the flow keys of the C definition', () => {
    const { ipv4FlowKey, ipv6FlowKey } = loadNative().layouts;
    expect(ipv4FlowKey).toEqual(FLOW_KEY_LAYOUT.ipv4);
    expect(ipv6FlowKey).toEqual(FLOW_KEY_LAYOUT.ipv6);
  });

  it('has the port bitmap size of bpf/tcpconnect.h', () => {
    expect(loadNative().portBitmapBytes).toBe(65536 / 8);
  });
});
