/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the kernel side of both tools (the bpf/ programs) and
 * everything that reads what they send up: the record kinds, their layout,
 * and the limits. Written once, here. native/ includes it; TypeScript reads
 * the same numbers from the addon (native/addon.cc exports sizeof, offsetof
 * and these constants), so no layout is restated anywhere.
 */
#ifndef TCPCONNECT_RECORDS_H
#define TCPCONNECT_RECORDS_H

#define TASK_COMM_LEN 16

/* -P filter: one bit per port, so any number of ports costs one lookup. */
#define PORT_BITMAP_BYTES (65536 / 8)

/* The events ring buffer: about 23000 connect records of room. */
#define EVENTS_RING_BYTES (2 << 20)

/* Records go up in time order; every record starts alike: a timestamp and a kind. */
enum record_kind {
	RECORD_CONNECT = 1,
	RECORD_DNS = 2,
};

/*
 * One connect (tcpconnect) or accept (tcpaccept: saddr/lport the local end,
 * daddr/dport the remote one). Fields by decreasing alignment; addresses are
 * the raw network-order bytes (IPv4 in the first 4 bytes), ports host order.
 */
struct event {
	__u64 ts_ns; /* bpf_ktime_get_ns(); 0 unless stamped (want_ts) */
	__u32 kind;  /* RECORD_CONNECT */
	__u32 pid;   /* TGID */
	__u32 uid;
	__u16 lport; /* host order; 0 unless known */
	__u16 dport; /* host order */
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 ip; /* 4 or 6, as bcc's IP column */
	__u8 __pad[3];
	__u32 tid; /* the thread that connected (or accepted) */
	char task[TASK_COMM_LEN];
	/* Who, by container and service (-C, -j; 0 unless want_identity): */
	__u64 cgroup_id; /* the task's cgroup v2 id (its directory's inode) */
	__u32 mntns;	 /* its mount namespace's inode */
	__u32 netns;	 /* its network namespace's inode */
	/* The outcome (-R, -x; 0 without them): */
	__s32 err; /* 0: connected; else the errno connect() gave or would give; RESULT_PENDING */
	__u32 lat_us; /* from the SYN (or the call, if it failed first) to the outcome */
};

/* err of a connect still waiting for its outcome when tracing stops (set by user space). */
#define RESULT_PENDING (-1)

/* --cgroup and --netns: directories and namespaces one run can name. */
#define MAX_CGROUP_FILTERS 8
#define MAX_NETNS_FILTERS 8

/* -d: the UDP payload of a DNS answer (source port 53), as received. */
#define DNS_MAX_PAYLOAD 512
#define DNS_HEADER_BYTES 12

struct dns_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() when it was received */
	__u32 kind;  /* RECORD_DNS */
	__u32 len;   /* bytes of payload that follow (at most DNS_MAX_PAYLOAD) */
	__u8 payload[DNS_MAX_PAYLOAD];
};

/* -c: connects counted in the kernel, per source, destination and port. */
#define COUNT_MAP_ENTRIES 65536

struct ipv4_flow_key {
	__u8 saddr[4];
	__u8 daddr[4];
	__u16 dport; /* host order */
	__u8 __pad[2];
};

struct ipv6_flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 dport; /* host order */
	__u8 __pad[6];
};

#ifdef __cplusplus
#define RECORDS_STATIC_ASSERT static_assert
#else
#define RECORDS_STATIC_ASSERT _Static_assert
#endif
/* Every record kind starts with the same two fields: readers find the kind and the time there. */
RECORDS_STATIC_ASSERT(__builtin_offsetof(struct event, kind) ==
			      __builtin_offsetof(struct dns_event, kind),
		      "records must start alike");
RECORDS_STATIC_ASSERT(__builtin_offsetof(struct event, ts_ns) == 0 &&
			      __builtin_offsetof(struct dns_event, ts_ns) == 0,
		      "records must start with their timestamp");
RECORDS_STATIC_ASSERT(sizeof(struct event) == 104,
		      "struct event: keep it a multiple of 8 and small");

#endif /* TCPCONNECT_RECORDS_H */
