/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What bpf/tcpconnect.bpf.c and bpf/tcpaccept.bpf.c share: the filters every
 * tool applies in the kernel (rodata set by user space before load, and the
 * user's pinned container maps), the events ring buffer, and the reads of a
 * task and a sock into struct event.
 */
#ifndef TCPCONNECT_COMMON_BPF_H
#define TCPCONNECT_COMMON_BPF_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "kernel.h"
#include "records.h"

/* Calls in flight at once (connects, DNS receives, accepts): entries of the
 * maps that carry them from one hook to the next. */
#define MAX_IN_FLIGHT 8192

/* Configuration, written by user space between open and load. */
const volatile __u32 filter_pid = 0; /* TGID; 0: every process */
const volatile bool filter_uid_on = false;
const volatile __u32 filter_uid = 0;
const volatile bool filter_ports_on = false;
const volatile __u8 filter_ports[PORT_BITMAP_BYTES] = {}; /* bit per port */
const volatile __u8 filter_family = 0;			  /* 4 or 6; 0: both */
const volatile bool filter_cgroup = false;		  /* --cgroupmap */
const volatile bool filter_mntns = false;		  /* --mntnsmap */
/* Fields only some modes need: ts_ns and uid stay 0 without them. Records
 * are stamped when the tool prints time (-t, -d) or when the reader puts
 * several rings' records in time order (src/events.ts decides which). */
const volatile bool want_ts = true;
const volatile bool want_uid = true;	   /* -U */
const volatile bool want_identity = false; /* -C, -j: cgroup id, namespaces */
/* --cgroup: how many of cgroup_dirs' entries are in use. --netns: the
 * network namespaces' inodes. */
const volatile __u32 filter_cgroups = 0;
const volatile __u32 filter_netns_count = 0;
const volatile __u32 filter_netns[MAX_NETNS_FILTERS] = {};

/*
 * --cgroupmap and --mntnsmap: user space puts the user's pinned hash maps
 * in place of these before load (keys: cgroup v2 id, mount namespace inode;
 * values ignored), so keys added or removed while tracing count at once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u64);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} mntns_filter SEC(".maps");

/* --cgroup: the directories' fds, put here by user space after load; a
 * task in one of them or below it is traced (bpf_current_task_under_cgroup,
 * on the cgroup v2 hierarchy). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, MAX_CGROUP_FILTERS);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_dirs SEC(".maps");

/*
 * Records go up through BPF ring buffers: one per CPU (per_cpu_rings), so
 * that CPUs connecting at once never share a lock or a cache line, and
 * user space puts them back in time order; or, where records must keep
 * one order across CPUs (-d: a DNS answer before the connect it names), or
 * where a kernel cannot hold ring buffers in a map (before 5.10), one ring
 * shared by every CPU. Either way the reader is woken only when it has
 * caught up: a burst costs one wakeup, not one per record. Kernels before
 * 5.8 have no ring buffer: there `events` becomes a perf event array and
 * use_ringbuf is cleared before load. The map a transport leaves unused is
 * made a one-entry array, and the verifier drops the unused branches.
 * src/events.ts chooses the transport; native/reader.cc shapes these maps
 * for it and reads them.
 */
const volatile bool use_ringbuf = true;
const volatile bool per_cpu_rings = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
} events SEC(".maps");

/* Entry N: CPU N's ring, created and put here by user space (native/reader.cc),
 * which divides the inner map's size among the CPUs. */
struct events_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* user space: one per possible CPU */
	__type(key, __u32);
	__array(values, struct events_ring);
} events_per_cpu SEC(".maps");

/* The ring buffer this CPU's records go to; NULL if there is none. */
static __always_inline void *events_ring(void)
{
	__u32 cpu;

	if (!per_cpu_rings)
		return &events;
	cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&events_per_cpu, &cpu);
}

/* Records the programs could not send (a full ring buffer) or keep (a full
 * map of calls in flight); a perf buffer counts its own overflows besides. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} events_lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&events_lost, &zero);

	if (lost)
		__sync_fetch_and_add(lost, 1);
}

/* A record built elsewhere (the stack, a map) leaves the kernel: a copy. */
static __always_inline void emit(void *ctx, const void *data, __u64 size)
{
	void *ring;

	if (!use_ringbuf) {
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, (void *)data, size);
		return;
	}
	ring = events_ring();
	if (!ring || bpf_ringbuf_output(ring, (void *)data, size, 0))
		count_lost();
}

/*
 * A connect record is built where user space will read it when it goes out
 * as it is: reserved in the ring buffer and filled in place (direct), with
 * no stack record and no copy. Otherwise (a perf buffer, or a record kept
 * or counted rather than sent) it is the caller's stack record, and goes
 * out through emit(). direct is a rodata constant, so the verifier sees one
 * way only. NULL: the ring buffer is full (counted as lost).
 */
static __always_inline struct event *record_begin(struct event *stack, bool direct)
{
	struct event *ev = stack;
	void *ring;

	if (direct) {
		ring = events_ring();
		ev = ring ? bpf_ringbuf_reserve(ring, sizeof(*ev), 0) : NULL;
		if (!ev) {
			count_lost();
			return NULL;
		}
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	return ev;
}

/* The record is not wanted after all (a filter said no). Not with
 * BPF_RB_NO_WAKEUP: the reader must pass the discarded record, or no later
 * record would find it caught up, and none would wake it. */
static __always_inline void record_drop(struct event *ev, bool direct)
{
	if (direct)
		bpf_ringbuf_discard(ev, 0);
}

static __always_inline void record_send(void *ctx, struct event *ev, bool direct)
{
	if (direct)
		bpf_ringbuf_submit(ev, 0);
	else
		emit(ctx, ev, sizeof(*ev));
}

static __always_inline bool in_cgroups(void)
{
#pragma unroll
	for (__u32 i = 0; i < MAX_CGROUP_FILTERS; i++) {
		if (i >= filter_cgroups)
			break;
		if (bpf_current_task_under_cgroup(&cgroup_dirs, i) == 1)
			return true;
	}
	return false;
}

static __always_inline bool in_netns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);

#pragma unroll
	for (__u32 i = 0; i < MAX_NETNS_FILTERS; i++) {
		if (i >= filter_netns_count)
			break;
		if (filter_netns[i] == netns)
			return true;
	}
	return false;
}

static __always_inline bool task_wanted(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (filter_cgroups && !in_cgroups())
		return false;
	if (filter_netns_count && !in_netns())
		return false;

	if (filter_cgroup) {
		__u64 cgroup = bpf_get_current_cgroup_id();

		if (!bpf_map_lookup_elem(&cgroup_filter, &cgroup))
			return false;
	}
	if (filter_mntns) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		__u64 mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);

		if (!bpf_map_lookup_elem(&mntns_filter, &mntns))
			return false;
	}

	if (filter_pid && (__u32)(pid_tgid >> 32) != filter_pid)
		return false;
	if (filter_uid_on && (__u32)bpf_get_current_uid_gid() != filter_uid)
		return false;
	return true;
}

/* -P: one bit per port, so any number of ports costs one lookup. */
static __always_inline bool port_wanted(__u16 port)
{
	__u32 byte = port >> 3;

	if (!filter_ports_on)
		return true;
	/* A u16 >> 3 is in range, but a verifier before 6.x loses a byte
	 * swap's bounds (the port came through bpf_ntohs): show it, and keep
	 * the compiler from dropping the check as redundant. */
	barrier_var(byte);
	if (byte >= PORT_BITMAP_BYTES)
		return false;
	return filter_ports[byte] & (1 << (port & 7));
}

/*
 * Kernel memory, read two ways: with plain loads where the verifier knows
 * the pointer's BTF type (a tp_btf program's arguments), else with probe
 * reads (kprobe and raw tracepoint arguments, pointers read from memory),
 * which cost a helper call each. btf is a constant: one way is compiled.
 */
#define KREAD(btf, ptr, field) ((btf) ? (ptr)->field : BPF_CORE_READ(ptr, field))
#define KREAD_BYTES(btf, dst, size, src)                  \
	do {                                              \
		if (btf)                                  \
			__builtin_memcpy(dst, src, size); \
		else                                      \
			bpf_core_read(dst, size, src);    \
	} while (0)

/* Addresses and ports of sk, as IPv4 or IPv6 per ip. */
static __always_inline void read_flow(struct event *ev, struct sock *sk, __u8 ip, bool btf)
{
	ev->ip = ip;
	if (ip == 4) {
		KREAD_BYTES(btf, ev->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		KREAD_BYTES(btf, ev->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		KREAD_BYTES(btf, ev->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		KREAD_BYTES(btf, ev->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	ev->dport = bpf_ntohs(KREAD(btf, sk, __sk_common.skc_dport));
	ev->lport = KREAD(btf, sk, __sk_common.skc_num);
}

/*
 * The task the record is about: the current one. btf: in a BTF-typed
 * program, where bpf_get_current_task_btf() (5.11+) lets its PID and comm be
 * read with plain loads rather than two helper calls; kernels without the
 * helper never see the call (the CO-RE test makes that branch dead code).
 * With want_identity, its cgroup and its namespaces too (the namespaces by
 * plain loads there as well).
 */
static __always_inline void read_task(struct event *ev, bool btf)
{
	__u64 pid_tgid;

	ev->kind = RECORD_CONNECT;
	if (want_ts)
		ev->ts_ns = bpf_ktime_get_ns();
	if (want_uid)
		ev->uid = (__u32)bpf_get_current_uid_gid();
	if (want_identity)
		ev->cgroup_id = bpf_get_current_cgroup_id();
	if (btf && bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
		struct task_struct *task = bpf_get_current_task_btf();

		if (want_identity) {
			struct nsproxy *ns = task->nsproxy;

			ev->mntns = ns->mnt_ns->ns.inum;
			ev->netns = ns->net_ns->ns.inum;
		}
		ev->pid = task->tgid;
		ev->tid = task->pid;
		__builtin_memcpy(ev->task, task->comm, sizeof(ev->task));
		return;
	}
	if (want_identity) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct nsproxy *ns = BPF_CORE_READ(task, nsproxy);

		ev->mntns = BPF_CORE_READ(ns, mnt_ns, ns.inum);
		ev->netns = BPF_CORE_READ(ns, net_ns, ns.inum);
	}
	pid_tgid = bpf_get_current_pid_tgid();
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	bpf_get_current_comm(ev->task, sizeof(ev->task));
}

/* The socket behind fd in the current task, or NULL. */
static __always_inline struct socket *socket_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	/* Another thread may have put some other file at that fd (dup2) since
	 * accept() returned: only a socket's private_data is a struct socket. */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

/* The sock behind fd in the current task, or NULL. */
static __always_inline struct sock *sock_of_fd(long fd)
{
	struct socket *sock = socket_of_fd(fd);

	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

#endif /* TCPCONNECT_COMMON_BPF_H */
