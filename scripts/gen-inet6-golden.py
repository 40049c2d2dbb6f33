#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates test/fixtures/inet6-golden.json: IPv6 addresses and the text
# glibc's inet_ntop gives them (through Python's socket.inet_ntop, which is
# what bcc uses). Edge cases first, then seeded random addresses biased to
# zero words so that compression cases are common.
import json
import random
import socket

EDGE = [
    "::", "::1", "::2", "::ffff", "1::", "1::1", "::ffff:0:0", "::ffff:1.2.3.4",
    "::ffff:0.0.0.0", "::1.2.3.4", "::0.0.0.2", "::ffff:0:1.2.3.4", "64:ff9b::1.2.3.4",
    "2001:db8::1", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1", "2001:db8::1:0:0:1",
    "1:0:0:2:0:0:0:3", "1:0:0:0:2:0:0:3", "0:0:1:0:0:0:0:0", "fe80::1", "ff02::1:ff00:1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1:2:3:4:5:6:7:8", "0:1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:0", "0:0:0:0:0:0:1:0", "1:0:1:0:1:0:1:0", "::1:0:0:0:0:0:0",
    "0:0:0:0:0:1:0:0", "::ffff:127.0.0.1", "::7f00:1", "0:0:0:0:0:fffe:1.2.3.4",
]

def packed(words):
    return b"".join(w.to_bytes(2, "big") for w in words)

rng = random.Random(5952)
cases = [socket.inet_pton(socket.AF_INET6, a) for a in EDGE]
for _ in range(400):
    words = [0 if rng.random() < 0.5 else rng.choice([1, 0xffff, rng.randrange(1, 0x10000)]) for _ in range(8)]
    cases.append(packed(words))

rows = [[c.hex(), socket.inet_ntop(socket.AF_INET6, c)] for c in cases]
with open("test/fixtures/inet6-golden.json", "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
