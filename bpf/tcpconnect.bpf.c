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
 * With -R or -x, a connect's row waits in `pending` for its outcome: the
 * sock leaving SYN_SENT (tcpc_outcome), or, for a connect that fails
 * before any SYN, the kretprobe's return value (kprobes) or the connect
 * syscall's exit (tracepoints, tcpc_call_enter/exit).
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
const volatile bool want_result = false;    /* -R, -x: rows at the outcome */
const volatile bool failed_only = false;    /* -x: only rows whose outcome is an error */

/* kprobe path: the sock a thread is connecting, from entry to return. */
struct connect_entry {
	struct sock *sk;
	void *uaddr; /* the kernel's copy of the caller's address */
	__u64 start_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, __u32); /* TID */
	__type(value, struct connect_entry);
} sockets SEC(".maps");

/* Rows waiting: on the tracepoint path with -L, for their local port; with
 * -R or -x, for their outcome (ts_ns holds when the SYN went). Every sock
 * put here leaves SYN_SENT some day, which takes its row out; rows still
 * here at a stop are printed PENDING; one that finds the map full is
 * counted as lost, never dropped silently. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, struct sock *);
	__type(value, struct event);
} pending SEC(".maps");

/* -R/-x on tracepoints: a thread's connect() call that starts an attempt
 * (a TCP socket not connecting yet), from its entry to its exit. LRU: the
 * entry of a thread killed inside the call, which never exits it, goes in
 * time rather than filling the map. */
enum call_state {
	CALL_STARTED, /* no SYN_SENT seen: a failure is the call's own */
	CALL_HANDED,  /* its sock entered SYN_SENT: `pending` has the row */
	CALL_FAILED,  /* its sock left SYN_SENT inside the call, with no error of
		       * its own (no local port, no route at tcp_connect()):
		       * ev is the row, the exit's errno its outcome */
};

struct connect_call {
	struct event ev;
	struct sock *sk;
	const void *uaddr; /* user memory */
	__u64 start_ns;
	__u32 state; /* enum call_state */
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, __u32); /* TID */
	__type(value, struct connect_call);
} calls SEC(".maps");

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
	return use_ringbuf && !do_count && !defer_to_lport && !want_result;
}

/* ---- kprobe path ------------------------------------------------------- */

static __always_inline int connect_entry(struct sock *sk, void *uaddr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct connect_entry entry = {.sk = sk, .uaddr = uaddr}, *left;

	if (!task_wanted())
		return 0;
	/* An entry this thread left before, for another sock, is a connect
	 * whose kretprobe never ran: the kernel had no kretprobe instance free
	 * (maxactive), and its row is lost. Counted. (The v6 call around a v4
	 * one left this same sock, and keeps its start.) */
	left = bpf_map_lookup_elem(&sockets, &tid);
	if (left && left->sk != sk)
		count_lost();
	if (left && left->sk == sk)
		return 0;
	if (want_result)
		entry.start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&sockets, &tid, &entry, BPF_ANY))
		count_lost(); /* its return would find nothing: said, not silent */
	return 0;
}

/* A connect's row goes up now, with its outcome (-R, -x): err 0 or an
 * errno, latency from start_ns. Stamped as it leaves: records from per-CPU
 * rings are put in order by their stamps. */
static __always_inline void output_result(void *ctx, struct event *ev, int err, __u64 start_ns)
{
	__u64 now = bpf_ktime_get_ns();

	if (failed_only && !err)
		return;
	ev->err = err;
	ev->lat_us = (now - start_ns) / 1000;
	ev->ts_ns = now;
	output(ctx, ev, false);
}

/* The caller's address (a struct sockaddr_in or _in6, in user or kernel
 * memory), as the row's destination; the source is the sock's bound
 * address and port, if any. For a connect that failed before a SYN. */
static __always_inline bool read_sockaddr(struct event *ev, struct sock *sk, const void *addr,
					  bool user)
{
	struct {
		__u16 family;
		__be16 port;
		__u8 v4[4]; /* sin_addr; for IPv6, sin6_flowinfo */
	} sa;
	__u8 v6[16]; /* sin6_addr, after those 8 bytes */

	/* Read as two parts: a struct sockaddr_in may end a page. */
	if (user ? bpf_probe_read_user(&sa, sizeof(sa), addr)
		 : bpf_probe_read_kernel(&sa, sizeof(sa), addr))
		return false;
	if (sa.family == AF_INET) {
		ev->ip = 4;
		__builtin_memcpy(ev->daddr, sa.v4, 4);
		BPF_CORE_READ_INTO(&ev->saddr[0], sk, __sk_common.skc_rcv_saddr);
	} else if (sa.family == AF_INET6) {
		__u32 *w = (__u32 *)v6;

		if (user ? bpf_probe_read_user(v6, sizeof(v6), addr + 8)
			 : bpf_probe_read_kernel(v6, sizeof(v6), addr + 8))
			return false;
		if (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff)) {
			ev->ip = 4; /* v4-mapped, as tcp_v6_connect hands it on */
			__builtin_memcpy(ev->daddr, &v6[12], 4);
			BPF_CORE_READ_INTO(&ev->saddr[0], sk, __sk_common.skc_rcv_saddr);
		} else {
			ev->ip = 6;
			__builtin_memcpy(ev->daddr, v6, 16);
			bpf_core_read(ev->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		}
	} else {
		return false;
	}
	ev->dport = bpf_ntohs(sa.port);
	ev->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	return true;
}

/* -R, -x: a connect that failed before any SYN, as its own row. */
static __always_inline void output_early_failure(void *ctx, struct sock *sk, const void *addr,
						 bool user, int err, __u64 start_ns)
{
	struct event ev = {};

	if (!read_sockaddr(&ev, sk, addr, user) || !flow_wanted(&ev))
		return;
	if (!do_count)
		read_task(&ev, false);
	output_result(ctx, &ev, err, start_ns);
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
	struct connect_entry *entry, call;
	struct event stack, *ev;

	entry = bpf_map_lookup_elem(&sockets, &tid);
	if (!entry)
		return 0;
	call = *entry;
	bpf_map_delete_elem(&sockets, &tid);

	/* Failed before the SYN: the sock may not hold the addresses (bcc
	 * shows nothing); -R and -x show it from the caller's address. */
	if (ret) {
		if (want_result)
			output_early_failure(ctx, call.sk, call.uaddr, false, -ret, call.start_ns);
		return 0;
	}
	ev = record_begin(&stack, direct);
	if (!ev)
		return 0;
	read_flow(ev, call.sk, ip, false);
	if (!flow_wanted(ev)) {
		record_drop(ev, direct);
		return 0;
	}
	if (!do_count)
		read_task(ev, false); /* -c counts flows: no task */
	if (want_result) {
		/* Until its outcome (tcpc_outcome). The SYN is out. */
		ev->ts_ns = call.start_ns;
		if (bpf_map_update_elem(&pending, &call.sk, ev, BPF_ANY))
			count_lost();
		return 0;
	}
	output(ctx, ev, direct);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcpc_v4_entry, struct sock *sk, void *uaddr)
{
	return connect_entry(sk, uaddr);
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(tcpc_v4_return, int ret)
{
	return connect_return(ctx, ret, 4);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(tcpc_v6_entry, struct sock *sk, void *uaddr)
{
	return connect_entry(sk, uaddr);
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
	if (want_result) {
		/* The thread's connect() call (tcpc_call_enter) now has a row
		 * waiting for its outcome, or one its flow filter dropped. */
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		struct connect_call *call = bpf_map_lookup_elem(&calls, &tid);

		if (call && call->sk == sk)
			call->state = CALL_HANDED;
	}
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
	if (want_result) {
		/* Until its outcome (tcpc_outcome); the SYN goes out now. */
		ev->ts_ns = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&pending, &sk, ev, BPF_ANY))
			count_lost();
		return 0;
	}
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

/* ---- -R, -x: each connect's outcome ----------------------------------- */

/*
 * The sock leaves SYN_SENT: ESTABLISHED is OK; CLOSE carries the error a
 * connect() would give (sk_err: ECONNREFUSED from a reset, ETIMEDOUT,
 * EHOSTUNREACH from ICMP or a failed ARP, ...), or none when the socket
 * was closed or shut down before any answer: ECONNABORTED. Runs where the
 * outcome happens (often softirq): the row's task is the one kept from
 * connect time. Both attach paths use it.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcpc_outcome, struct sock *sk, int oldstate, int newstate)
{
	struct connect_call *call;
	struct event *ev;
	__u16 lport;
	__u32 tid;
	int err;

	if (oldstate != TCP_SYN_SENT || (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE))
		return 0;
	/* Read before sk goes on the stack as a key: a verifier before 6.x
	 * takes a pointer a helper has read there for a plain number. */
	err = newstate == TCP_CLOSE ? sk->sk_err : 0;
	lport = sk->__sk_common.skc_num;
	ev = bpf_map_lookup_elem(&pending, &sk);
	if (!ev)
		return 0;
	if (newstate == TCP_CLOSE && !err) {
		/* Inside the thread's own connect() (tracepoints): the call
		 * failed on its way (no local port left, no route to build
		 * the SYN). Its exit has the errno. */
		struct task_struct *task = bpf_get_current_task_btf();

		tid = (__u32)bpf_get_current_pid_tgid();
		call = bpf_map_lookup_elem(&calls, &tid);
		/* Not a thread killed inside connect(), closing its files: that
		 * call never exits, and its row is said here. */
		if (call && call->sk == sk && !(task->flags & PF_EXITING)) {
			__builtin_memcpy(&call->ev, ev, sizeof(*ev));
			call->state = CALL_FAILED;
			bpf_map_delete_elem(&pending, &sk);
			return 0;
		}
		err = ECONNABORTED;
	}
	ev->lport = lport ? lport : bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	output_result(ctx, ev, err, ev->ts_ns);
	bpf_map_delete_elem(&pending, &sk);
	return 0;
}

/* Tracepoints, -R or -x: a connect() call, for the failures that come
 * before any SYN (no route, an unreachable route, a bad address): the
 * kprobe path has them from tcp_v[46]_connect's return value. */
SEC("tracepoint/syscalls/sys_enter_connect")
int tcpc_call_enter(struct syscall_trace_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct connect_call call = {};
	struct socket *sock;
	struct sock *sk;

	if (!task_wanted())
		return 0;
	/* Only a TCP socket not connecting yet starts an attempt. Another
	 * connect() on one that is (restarted after SIGSTOP, or asked again
	 * for the outcome) returns that attempt's outcome: its row is the
	 * attempt's, made already or pending. */
	sock = socket_of_fd(ctx->args[0]);
	if (!sock || BPF_CORE_READ(sock, state) != SS_UNCONNECTED)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	call.sk = sk;
	call.uaddr = (const void *)ctx->args[1];
	call.start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&calls, &tid, &call, BPF_ANY))
		count_lost();
	return 0;
}

/* What connect() returns that is no attempt's outcome: in progress, already
 * connected or connecting, interrupted, or no socket at all. */
static __always_inline bool attempt_errno(long err)
{
	return err != EINPROGRESS && err != EALREADY && err != EISCONN && err != EINTR &&
	       err != EBADF && err != ENOTSOCK && err != EFAULT &&
	       (err < ERESTARTSYS || err > ERESTARTSYS + 5);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int tcpc_call_exit(struct syscall_trace_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct connect_call *call = bpf_map_lookup_elem(&calls, &tid);
	long ret = ctx->ret;

	if (!call)
		return 0;
	if (call->state == CALL_FAILED)
		output_result(ctx, &call->ev, ret < 0 ? -ret : ECONNABORTED, call->ev.ts_ns);
	else if (call->state == CALL_STARTED && ret < 0 && attempt_errno(-ret))
		output_early_failure(ctx, call->sk, call->uaddr, true, -ret, call->start_ns);
	bpf_map_delete_elem(&calls, &tid);
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
