/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Just the kernel types and fields this program reads, marked
 * preserve_access_index so that libbpf relocates every access against the
 * running kernel's BTF (CO-RE). Chosen over a generated vmlinux.h: no
 * multi-megabyte file in git, nothing taken from the build host's kernel,
 * and each field the tool depends on is listed here, once.
 *
 * Layouts need not match the kernel's: fields are found by name, including
 * through the kernel's anonymous unions.
 */
#ifndef TCPCONNECT_KERNEL_H
#define TCPCONNECT_KERNEL_H

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 0170000
#define S_IFSOCK 0140000

/* include/net/tcp_states.h */
/* include/uapi/linux/net.h (an enum: CO-RE matches enum fields to enums) */
enum socket_state {
	SS_FREE = 0,
	SS_UNCONNECTED,
	SS_CONNECTING,
	SS_CONNECTED,
	SS_DISCONNECTING,
};

/* include/linux/sched.h: task_struct's flags */
#define PF_EXITING 0x00000004

#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/* include/uapi/asm-generic/errno*.h: a socket closed before any answer, and
 * what connect() gives that is no attempt's outcome */
#define ECONNABORTED 103
#define EINTR 4
#define EBADF 9
#define EFAULT 14
#define ENOTSOCK 88
#define EISCONN 106
#define EALREADY 114
#define EINPROGRESS 115
#define ERESTARTSYS 512 /* 512-517: the kernel's restart codes, never seen by a caller */

struct in6_addr {
	__u8 s6_addr[16];
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num; /* local port, host order */
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol; /* a u16 since 5.6 */
	int sk_err;	   /* the error a failed connect reports */
} __attribute__((preserve_access_index));

/* The local port as the socket keeps it once its bind is released (a
 * connect that fails unhashes the sock and zeroes skc_num first). */
struct inet_sock {
	struct sock sk;
	__be16 inet_sport;
} __attribute__((preserve_access_index));

/* From an fd to its sock (tcpaccept, and tcpconnect -R, on tracepoints). */
struct socket {
	enum socket_state state;
	struct sock *sk;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode; /* umode_t */
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	void *private_data; /* struct socket * for a socket */
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct sock *sk;
	unsigned int len; /* bytes in all, data_len of them paged */
	unsigned int data_len;
	unsigned char *data;
} __attribute__((preserve_access_index));

/* The receive buffer of udp_recvmsg()/udpv6_recvmsg(). */
enum iter_type {
	ITER_IOVEC,
	ITER_UBUF, /* 6.0 and later: one user buffer */
};

struct iovec {
	void *iov_base;
	__kernel_size_t iov_len;
} __attribute__((preserve_access_index));

struct iov_iter {
	__u8 iter_type;
	__kernel_size_t count;
	void *ubuf;
	const struct iovec *__iov; /* 6.4 and later */
} __attribute__((preserve_access_index));

struct iov_iter___old {
	const struct iovec *iov; /* before 6.4 */
} __attribute__((preserve_access_index));

struct msghdr {
	void *msg_name; /* a kernel copy of the peer's sockaddr */
	struct iov_iter msg_iter;
} __attribute__((preserve_access_index));

/* --mntnsmap: current->nsproxy->mnt_ns->ns.inum */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct mnt_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct mnt_namespace *mnt_ns;
	struct net *net_ns;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	int pid;
	int tgid;
	char comm[16]; /* TASK_COMM_LEN */
	struct nsproxy *nsproxy;
	struct files_struct *files;
} __attribute__((preserve_access_index));

struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
} __attribute__((preserve_access_index));

/* syscalls:sys_enter_* */
struct syscall_trace_enter {
	struct trace_entry ent;
	int nr;
	unsigned long args[6];
} __attribute__((preserve_access_index));

/* syscalls:sys_exit_* */
struct syscall_trace_exit {
	struct trace_entry ent;
	int nr;
	long ret;
} __attribute__((preserve_access_index));

#endif /* TCPCONNECT_KERNEL_H */
