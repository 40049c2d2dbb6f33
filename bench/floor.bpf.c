// SPDX-License-Identifier: GPL-2.0-only
/*
 * The bench's floor: a program that does nothing, on the tracepoint the
 * tracepoint path hooks, hooked the same way (tp_btf, as bpf/tcpconnect.bpf.c's
 * tcpc_state). It runs as often as ours (about 6 times per loopback
 * connect, both ends' state changes), so
 * a storm with it attached costs what hooking this tracepoint costs at all,
 * before any work: the best any tracer of it could do.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/inet_sock_set_state")
int floor_state(void *ctx)
{
	return 0;
}
