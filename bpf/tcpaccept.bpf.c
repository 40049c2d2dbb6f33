// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcpaccept: one event per passive TCP connection accepted, as bcc's
 * tools/tcpaccept.py, in the accepting task's context.
 *
 *  - kretprobe on inet_csk_accept (bcc's hook) where the kernel has kprobes;
 *  - syscalls:sys_exit_accept and sys_exit_accept4 where it has not: the
 *    returned fd is walked to its sock (current->files->fdt->fd[ret] ->
 *    private_data -> sk). The accepting process is the caller here too,
 *    unlike sock:inet_sock_set_state, which runs in softirq (bcc #2304).
 *
 * The record is tcpconnect's struct event: saddr/lport are the local end,
 * daddr/dport the remote one.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * With kprobes, the accept() exits are hooked too: a kretprobe fires only
 * for calls that entered inet_csk_accept after it was attached, so an
 * accept() already waiting when tracing starts is reported at its exit.
 * The kretprobe marks the thread it saw, and that thread's exit then stays
 * quiet: one row per accept. (Without the kretprobe, nothing is marked.)
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_IN_FLIGHT);
	__type(key, __u32); /* TID */
	__type(value, __u8);
} kretprobe_saw SEC(".maps");

static __always_inline int report(void *ctx, struct sock *sk)
{
	bool direct = use_ringbuf;
	struct event stack, *ev;
	__u16 family;

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	ev = record_begin(&stack, direct);
	if (!ev)
		return 0;
	/* A dual-stack listener's IPv4 client stays AF_INET6 (::ffff:a.b.c.d), as in bcc. */
	read_flow(ev, sk, family == AF_INET ? 4 : 6, false);
	if ((filter_family && ev->ip != filter_family) || !port_wanted(ev->lport)) {
		record_drop(ev, direct);
		return 0;
	}
	read_task(ev, false);
	record_send(ctx, ev, direct);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(tcpa_accept_ret, struct sock *newsk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u8 seen = 1;

	if (newsk)
		bpf_map_update_elem(&kretprobe_saw, &tid, &seen, BPF_ANY);
	if (!task_wanted())
		return 0;
	return report(ctx, newsk);
}

static __always_inline int accept_exit(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (bpf_map_lookup_elem(&kretprobe_saw, &tid)) {
		bpf_map_delete_elem(&kretprobe_saw, &tid);
		return 0; /* reported by the kretprobe */
	}
	if (ret < 0 || !task_wanted())
		return 0;
	return report(ctx, sock_of_fd(ret));
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcpa_accept4(struct syscall_trace_exit *ctx)
{
	return accept_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tcpa_accept(struct syscall_trace_exit *ctx)
{
	return accept_exit(ctx, ctx->ret);
}
