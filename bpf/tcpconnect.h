/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between bpf/tcpconnect.bpf.c and its readers (native/, and
 * through the layout constants native/ exports, src/decode.ts): the event
 * record and the limits. Written once, included by both sides.
 */
#ifndef TCPCONNECT_H
#define TCPCONNECT_H

#define TASK_COMM_LEN 16

/* -P filter: one bit per destination port, so any number of ports costs one lookup. */
#define PORT_BITMAP_BYTES (65536 / 8)

/* The events ring buffer: about 23000 connect records of room. */
#define EVENTS_RING_BYTES (2 << 20)

/* Records on the events ring buffer start alike: a timestamp and a kind. */
enum record_kind {
	RECORD_CONNECT = 1,
	RECORD_DNS = 2,
};

/*
 * One active connect. Fields by decreasing alignment; addresses are the raw
 * network-order bytes (IPv4 in the first 4 bytes), ports are host order.
 */
struct event {
	__u64 ts_ns;			/* bpf_ktime_get_ns() at connect time */
	__u32 kind;			/* RECORD_CONNECT */
	__u32 pid;			/* TGID */
	__u32 uid;
	__u16 lport;			/* host order; 0 unless known */
	__u16 dport;			/* host order */
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 ip;			/* 4 or 6, as bcc's IP column */
	__u8 __pad[7];
	char task[TASK_COMM_LEN];
};

/* -d: the UDP payload of a DNS answer (source port 53), as received. */
#define DNS_MAX_PAYLOAD 512

struct dns_event {
	__u64 ts_ns;			/* bpf_ktime_get_ns() when it was received */
	__u32 kind;			/* RECORD_DNS */
	__u32 len;			/* bytes of payload that follow (at most 512) */
	__u8 payload[DNS_MAX_PAYLOAD];
};

/* -c: connects counted in the kernel, per source, destination and port. */
#define COUNT_MAP_ENTRIES 65536

struct ipv4_flow_key {
	__u8 saddr[4];
	__u8 daddr[4];
	__u16 dport;			/* host order */
	__u8 __pad[2];
};

struct ipv6_flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 dport;			/* host order */
	__u8 __pad[6];
};

#ifdef __cplusplus
#define TCPCONNECT_STATIC_ASSERT static_assert
#else
#define TCPCONNECT_STATIC_ASSERT _Static_assert
#endif
TCPCONNECT_STATIC_ASSERT(sizeof(struct event) == 80, "struct event layout changed: update src/decode.ts");
TCPCONNECT_STATIC_ASSERT(sizeof(struct dns_event) == 16 + DNS_MAX_PAYLOAD, "dns_event layout changed: update src/decode.ts");
TCPCONNECT_STATIC_ASSERT(sizeof(struct ipv4_flow_key) == 12, "ipv4_flow_key layout changed: update src/count.ts");
TCPCONNECT_STATIC_ASSERT(sizeof(struct ipv6_flow_key) == 40, "ipv6_flow_key layout changed: update src/count.ts");

#endif /* TCPCONNECT_H */
