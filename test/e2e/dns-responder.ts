// SPDX-License-Identifier: Apache-2.0
//
// A real DNS server for the -d tests, on loopback port 53 (IPv4 and IPv6),
// answering from a table with dns-packet. Names not in the table get NXDOMAIN.
import dgram from 'node:dgram';

import * as dnsPacket from 'dns-packet';

export type Zone = Record<string, dnsPacket.Answer[]>;

export interface Responder {
  v4: string;
  v6: string;
  close(): void;
}

export async function startResponder(zone: Zone, v4 = '127.0.0.153', v6 = '::1'): Promise<Responder> {
  const serve = (type: 'udp4' | 'udp6', address: string) =>
    new Promise<dgram.Socket>((resolve, reject) => {
      const sock = dgram.createSocket(type);
      sock.on('message', (msg, peer) => {
        let query: dnsPacket.Packet;
        try {
          query = dnsPacket.decode(msg);
        } catch {
          return;
        }
        const q = query.questions?.[0];
        const answers = (q && zone[q.name.toLowerCase()]) ?? [];
        const wanted = answers.filter((a) => a.type === 'CNAME' || a.type === q?.type);
        const reply = dnsPacket.encode({
          type: 'response',
          id: query.id,
          flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (answers.length ? 0 : 3), // 3: NXDOMAIN
          questions: query.questions,
          answers: wanted,
        });
        sock.send(reply, peer.port, peer.address);
      });
      sock.once('error', reject);
      sock.bind(53, address, () => resolve(sock));
    });
  const [a, b] = await Promise.all([serve('udp4', v4), serve('udp6', v6)]);
  return {
    v4,
    v6,
    close: () => {
      a.close();
      b.close();
    },
  };
}

/** One question over a plain, unconnected UDP socket (recvfrom with a source address). */
export function askUnconnected(server: string, name: string, type: 'A' | 'AAAA'): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no answer for ${name}`));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(dnsPacket.decode(msg));
    });
    sock.send(dnsPacket.encode({ type: 'query', id: 9, questions: [{ type, name }] }), 53, server);
  });
}
