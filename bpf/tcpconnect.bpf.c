// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcpconnect: one event per active TCP connect, as bcc's tools/tcpconnect.py.
 *
 * Two ways in, one record out (struct event, bpf/records.h):
 *  - kprobe + kretprobe on tcp_v4_connect / tcp_v6_connect, bcc's hook points,
 *    where the kernel has kprobes;
 *  - sock:inet_sock_set_state (CLOSE -> SYN_SENT, inside the same functions,
 *    in the caller's context) where it has not; with -L, net:net_dev_queue
 *    completes the row with the local port once the SYN is queued. These are
 *    BTF-typed raw tracepoints (tp_btf): the program gets the kernel's own
 *    arguments, read with plain loads, and no trace record is built for
 *    every TCP state change or packet first.
 * User space loads one set or the other; all filters are rodata set before load.
 *
 * With -d, DNS answers (UDP from port 53) are sent up too, on the same ring
 * buffer so that they reach user space in time order with the connects:
 * from udp_recvmsg/udpv6_recvmsg (kprobes, as bcc; connected or not, every
 * iov_iter kind a kernel uses for them), or from net:netif_receive_skb.
 */

#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Configuration, written by user space between open and load. */
const volatile bool defer_to_lport = false; /* tracepoints with -L */
const volatile bool do_count = false;	    /* -c: count, send no events */

/* kprobe path: the sock a thread is connecting, from entry to return. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, __u32); /* TID */
	__type(value, struct sock *);
} sockets SEC(".maps");

/* tracepoint path with -L: rows waiting for their local port. Every sock
 * put here leaves SYN_SENT some day, which takes its row out; one that
 * finds the map full is counted as lost, never dropped silently. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, struct sock *);
	__type(value, struct event);
} pending SEC(".maps");

/* -d: one answer being built, too large for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_event);
} dns_scratch SEC(".maps");

/* -d on kprobes: a thread's receive, from udp_recvmsg's entry to its return. */
struct dns_recv {
	void *buf; /* user memory the datagram is copied to */
	__u64 size;
	struct msghdr *msg;
	bool from_port53; /* connected to port 53: no need to look at msg_name */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, __u32); /* TID */
	__type(value, struct dns_recv);
} dns_recvs SEC(".maps");

/*
 * -c: connects per flow, IPv4 and IPv6 apart, as bcc's ipv4_count/ipv6_count.
 * A count per CPU, summed by user space: CPUs counting the same flow at
 * once never move its counter between them. Allocated per flow as it is
 * first seen, not for every possible flow on every CPU up front.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, COUNT_MAP_ENTRIES);
	__type(key, struct ipv4_flow_key);
	__type(value, __u64);
} ipv4_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, COUNT_MAP_ENTRIES);
	__type(key, struct ipv6_flow_key);
	__type(value, __u64);
} ipv6_count SEC(".maps");

/* -c: connects that found their count map full, so that none is lost silently. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} count_overflow SEC(".maps");

static __always_inline bool flow_wanted(const struct event *ev)
{
	return (!filter_family || ev->ip == filter_family) && port_wanted(ev->dport);
}

static __always_inline void increment(void *map, const void *key)
{
	static const __u64 one = 1;
	__u32 zero = 0;
	__u64 *n;

	n = bpf_map_lookup_elem(map, key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (!bpf_map_update_elem(map, key, &one, BPF_NOEXIST))
		return;
	/* Another CPU added the key first, or the map is full. */
	n = bpf_map_lookup_elem(map, key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	n = bpf_map_lookup_elem(&count_overflow, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void count(const struct event *ev)
{
	if (ev->ip == 4) {
		struct ipv4_flow_key key = {};

		__builtin_memcpy(key.saddr, ev->saddr, sizeof(key.saddr));
		__builtin_memcpy(key.daddr, ev->daddr, sizeof(key.daddr));
		key.dport = ev->dport;
		increment(&ipv4_count, &key);
	} else {
		struct ipv6_flow_key key = {};

		__builtin_memcpy(key.saddr, ev->saddr, sizeof(key.saddr));
		__builtin_memcpy(key.daddr, ev->daddr, sizeof(key.daddr));
		key.dport = ev->dport;
		increment(&ipv6_count, &key);
	}
}

/* The one place a connect leaves the kernel: as a row, or as a count. */
static __always_inline void output(void *ctx, struct event *ev, bool direct)
{
	if (do_count)
		count(ev);
	else
		record_send(ctx, ev, direct);
}

/* Rows go straight into the ring buffer unless -c counts them or -L (on
 * tracepoints) holds them for their local port. */
static __always_inline bool direct_rows(void)
{
	return use_ringbuf && !do_count && !defer_to_lport;
}

/* ---- kprobe path ------------------------------------------------------- */

static __always_inline int connect_entry(struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sock **left;

	if (!task_wanted())
		return 0;
	/* An entry this thread left before, for another sock, is a connect
	 * whose kretprobe never ran: the kernel had no kretprobe instance free
	 * (maxactive), and its row is lost. Counted. (The v6 call around a v4
	 * one left this same sock.) */
	left = bpf_map_lookup_elem(&sockets, &tid);
	if (left && *left != sk)
		count_lost();
	if (bpf_map_update_elem(&sockets, &tid, &sk, BPF_ANY))
		count_lost(); /* its return would find nothing: said, not silent */
	return 0;
}

/*
 * An AF_INET6 socket connecting to ::ffff:a.b.c.d enters tcp_v6_connect,
 * which calls tcp_v4_connect on the same sock in the same thread: the inner
 * return consumes the entry and reports IP 4, the outer one finds nothing.
 * The entry is deleted on every path, so -6 cannot re-report it as IP 6.
 */
static __always_inline int connect_return(void *ctx, int ret, __u8 ip)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bool direct = direct_rows();
	struct event stack, *ev;
	struct sock **skpp;
	struct sock *sk;

	skpp = bpf_map_lookup_elem(&sockets, &tid);
	if (!skpp)
		return 0;
	sk = *skpp;
	bpf_map_delete_elem(&sockets, &tid);

	/* Failed before the SYN: the sock may not hold the addresses (bcc). */
	if (ret)
		return 0;
	ev = record_begin(&stack, direct);
	if (!ev)
		return 0;
	read_flow(ev, sk, ip, false);
	if (!flow_wanted(ev)) {
		record_drop(ev, direct);
		return 0;
	}
	if (!do_count)
		read_task(ev, false); /* -c counts flows: no task */
	output(ctx, ev, direct);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcpc_v4_entry, struct sock *sk)
{
	return connect_entry(sk);
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(tcpc_v4_return, int ret)
{
	return connect_return(ctx, ret, 4);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(tcpc_v6_entry, struct sock *sk)
{
	return connect_entry(sk);
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(tcpc_v6_return, int ret)
{
	return connect_return(ctx, ret, 6);
}

/* ---- tracepoint path --------------------------------------------------- */

/* 4 for AF_INET and for AF_INET6 socks connecting to a v4-mapped address
 * (they go through tcp_v4_connect, so bcc reports them as IP 4). */
static __always_inline __u8 sock_ip(struct sock *sk, bool btf)
{
	__u32 daddr[4];

	if (KREAD(btf, sk, __sk_common.skc_family) == AF_INET)
		return 4;
	KREAD_BYTES(btf, daddr, sizeof(daddr), &sk->__sk_common.skc_v6_daddr);
	if (daddr[0] == 0 && daddr[1] == 0 && daddr[2] == bpf_htonl(0xffff))
		return 4;
	return 6;
}

/*
 * The SYN is queued, or the sock left SYN_SENT: send the row held for its
 * local port. A connect that fails (no answer to ARP, a SYN dropped on
 * output, a Fast Open connect never written to) sends no SYN at all, and
 * reaches CLOSE with its port already released (skc_num is zeroed before
 * the state changes): its port is still in inet_sport, and bcc prints
 * such a connect too. A port of 0 even there means the connect failed
 * inside tcp_v[46]_connect, before a port was chosen, which bcc does not
 * show.
 */
static __always_inline void flush_pending(void *ctx, struct sock *sk)
{
	struct event *ev = bpf_map_lookup_elem(&pending, &sk);

	if (!ev)
		return;
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!ev->lport)
		ev->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	/* Stamped as it leaves, as a direct record is: rows from per-CPU rings
	 * are put in order by their stamps, which must not predate the send
	 * by more than the reader allows (native/reader.cc, kSettleNs). And
	 * the SYN is out now, where bcc's kretprobe stamps it too. */
	if (want_ts)
		ev->ts_ns = bpf_ktime_get_ns();
	if (ev->lport)
		output(ctx, ev, false);
	bpf_map_delete_elem(&pending, &sk);
}

/* tp_btf (5.5+), not raw_tp: the verifier knows sk is a struct sock, so it
 * is read with plain loads (~320 ns less per connect than probe reads and
 * a raw tracepoint's entry, measured in bench/README.md). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcpc_state, struct sock *sk, int oldstate, int newstate)
{
	bool direct = direct_rows();
	struct event stack, *ev;

	if (oldstate == TCP_SYN_SENT) {
		if (defer_to_lport)
			flush_pending(ctx, sk);
		return 0;
	}
	if (oldstate != TCP_CLOSE || newstate != TCP_SYN_SENT)
		return 0;
	if (KREAD(true, sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (!task_wanted())
		return 0;
	ev = record_begin(&stack, direct);
	if (!ev)
		return 0;
	read_flow(ev, sk, sock_ip(sk, true), true);
	if (!flow_wanted(ev)) {
		record_drop(ev, direct);
		return 0;
	}
	if (!do_count)
		read_task(ev, true);
	/* The local port is chosen after this point, unless the socket was bound. */
	if (defer_to_lport && !ev->lport) {
		if (bpf_map_update_elem(&pending, &sk, ev, BPF_ANY))
			count_lost();
		return 0;
	}
	output(ctx, ev, direct);
	return 0;
}

/*
 * -L and -j on the tracepoint path, where a cgroup v2 hierarchy is mounted:
 * the whole row at once, from the hook tcp_connect() calls in the
 * connecting thread, with the local port chosen and the SYN not yet built.
 * It runs once per connect; only connection set-up calls sock_ops
 * programs, never a data packet. Attached at the cgroup2 root, so every
 * socket's cgroup inherits it; user space undoes the attach (a link) at
 * exit. Without cgroup2, tcpc_state holds the row for tcpc_dev_queue.
 */
SEC("sockops")
int tcpc_connect_cb(struct bpf_sock_ops *skops)
{
	bool direct = use_ringbuf && !do_count;
	struct event stack, *ev;
	struct bpf_sock *bsk;
	struct sock *sk;

	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	bsk = skops->sk;
	if (!bsk)
		return 1;
	sk = (struct sock *)bpf_skc_to_tcp_sock(bsk);
	if (!sk || !task_wanted())
		return 1;
	ev = record_begin(&stack, direct);
	if (!ev)
		return 1;
	read_flow(ev, sk, sock_ip(sk, true), true);
	if (!flow_wanted(ev)) {
		record_drop(ev, direct);
		return 1;
	}
	read_task(ev, true);
	output(skops, ev, direct);
	return 1;
}

/* The SYN is queued in the connecting thread with its local port chosen.
 * Runs for every transmitted packet, so it is BTF-typed (plain loads, as
 * tcpc_state) and looks in the map only for a sock still in SYN_SENT: the
 * other packets of a connection cost two loads, not a hash lookup. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(tcpc_dev_queue, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;

	if (sk && sk->__sk_common.skc_state == TCP_SYN_SENT)
		flush_pending(ctx, sk);
	return 0;
}

/* ---- -d: DNS answers -------------------------------------------------- */

/*
 * Whether a payload can be a DNS answer at all: a response (QR set) to one
 * question, whose records could fit its length (a question takes at least
 * 5 bytes, a record 11). Anything else, such as a 12-byte header claiming
 * 65535 records, never leaves the kernel. src/dns/cache.ts applies the
 * same rule before it decodes.
 */
static __always_inline bool dns_answer_shaped(const __u8 *p, __u32 len)
{
	__u32 questions = (p[4] << 8) | p[5];
	__u32 records = ((p[6] << 8) | p[7]) + ((p[8] << 8) | p[9]) + ((p[10] << 8) | p[11]);

	return len >= DNS_HEADER_BYTES && (p[2] & 0x80) && questions == 1 &&
	       DNS_HEADER_BYTES + 5 + records * 11 <= len;
}

static __always_inline void dns_output(void *ctx, const void *src, __u64 len, bool user)
{
	__u32 zero = 0;
	struct dns_event *d = bpf_map_lookup_elem(&dns_scratch, &zero);

	if (!d)
		return;
	if (len > DNS_MAX_PAYLOAD)
		len = DNS_MAX_PAYLOAD;
	/* Keep the compiler from testing a copy: the verifier must see len bounded. */
	barrier_var(len);
	if (len == 0 || len > DNS_MAX_PAYLOAD)
		return;
	d->ts_ns = bpf_ktime_get_ns();
	d->kind = RECORD_DNS;
	d->len = len;
	if (user)
		bpf_probe_read_user(d->payload, len, src);
	else
		bpf_probe_read_kernel(d->payload, len, src);
	if (!dns_answer_shaped(d->payload, len))
		return;
	emit(ctx, d, offsetof(struct dns_event, payload) + len);
}

static __always_inline int dns_recv_entry(struct sock *sk, struct msghdr *msg)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct iov_iter___old *old = (void *)__builtin_preserve_access_index(&msg->msg_iter);
	struct dns_recv r = {};
	const struct iovec *iov;
	__u8 type;

	/* In the reading task: -p, -u and the container maps apply to its answers. */
	if (!task_wanted())
		return 0;
	/* Left by a receive of this thread whose kretprobe never ran (no
	 * instance free: maxactive). It may have been an answer: counted. */
	if (bpf_map_lookup_elem(&dns_recvs, &tid))
		count_lost();
	r.msg = msg;
	r.from_port53 = BPF_CORE_READ(sk, __sk_common.skc_dport) == bpf_htons(53);
	type = BPF_CORE_READ(msg, msg_iter.iter_type);
	/* Since 6.4 a plain recv()/recvfrom() is ITER_UBUF, which bcc misses. */
	if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
	    type == bpf_core_enum_value(enum iter_type, ITER_UBUF)) {
		r.buf = BPF_CORE_READ(msg, msg_iter.ubuf);
		r.size = BPF_CORE_READ(msg, msg_iter.count);
	} else if (type == bpf_core_enum_value(enum iter_type, ITER_IOVEC)) {
		if (bpf_core_field_exists(msg->msg_iter.__iov))
			iov = BPF_CORE_READ(msg, msg_iter.__iov);
		else
			iov = BPF_CORE_READ(old, iov);
		r.buf = BPF_CORE_READ(iov, iov_base);
		r.size = BPF_CORE_READ(iov, iov_len); /* the first segment only */
	} else {
		return 0;
	}
	if (bpf_map_update_elem(&dns_recvs, &tid, &r, BPF_ANY))
		count_lost();
	return 0;
}

static __always_inline int dns_recv_return(void *ctx, int copied)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct dns_recv *rp = bpf_map_lookup_elem(&dns_recvs, &tid);
	struct msghdr *msg;
	struct dns_recv r;
	__be16 port;
	void *name;

	if (!rp)
		return 0;
	r = *rp;
	bpf_map_delete_elem(&dns_recvs, &tid);
	if (copied <= 0)
		return 0;
	if (!r.from_port53) {
		/* Unconnected: the sender is in msg_name (sin_port and sin6_port
		 * are both at offset 2). */
		msg = r.msg;
		name = BPF_CORE_READ(msg, msg_name);
		if (!name || bpf_probe_read_kernel(&port, sizeof(port), name + 2) ||
		    port != bpf_htons(53))
			return 0;
	}
	dns_output(ctx, r.buf, (__u64)copied < r.size ? (__u64)copied : r.size, true);
	return 0;
}

SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(tcpc_dns4_entry, struct sock *sk, struct msghdr *msg)
{
	return dns_recv_entry(sk, msg);
}

SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(tcpc_dns4_return, int copied)
{
	return dns_recv_return(ctx, copied);
}

SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(tcpc_dns6_entry, struct sock *sk, struct msghdr *msg)
{
	return dns_recv_entry(sk, msg);
}

SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(tcpc_dns6_return, int copied)
{
	return dns_recv_return(ctx, copied);
}

struct udp_header {
	__be16 source;
	__be16 dest;
	__be16 len;
	__be16 check;
};

/* Every received packet: IPv4 or IPv6, UDP from port 53, not a fragment.
 * skb->data is at the network header here. */
SEC("raw_tp/netif_receive_skb")
int BPF_PROG(tcpc_dns_skb, struct sk_buff *skb)
{
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u32 headlen = BPF_CORE_READ(skb, len) - BPF_CORE_READ(skb, data_len);
	struct udp_header uh;
	__u8 ip[10];
	__u32 l4, len;

	if (headlen < 28 || bpf_probe_read_kernel(ip, sizeof(ip), data))
		return 0;
	if ((ip[0] >> 4) == 4) {
		/* protocol at 9; flags and fragment offset at 6-7 */
		if (ip[9] != IPPROTO_UDP || ((ip[6] & 0x3f) | ip[7]))
			return 0;
		l4 = (ip[0] & 0xf) * 4;
	} else if ((ip[0] >> 4) == 6) {
		if (ip[6] != IPPROTO_UDP) /* next header; no extension headers */
			return 0;
		l4 = 40;
	} else {
		return 0;
	}
	if (l4 + sizeof(uh) > headlen || bpf_probe_read_kernel(&uh, sizeof(uh), data + l4))
		return 0;
	if (uh.source != bpf_htons(53) || bpf_ntohs(uh.len) < sizeof(uh))
		return 0;
	len = bpf_ntohs(uh.len) - sizeof(uh);
	if (len > headlen - l4 - sizeof(uh))
		len = headlen - l4 - sizeof(uh);
	dns_output(ctx, data + l4 + sizeof(uh), len, false);
	return 0;
}
