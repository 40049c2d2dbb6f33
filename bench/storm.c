// SPDX-License-Identifier: Apache-2.0
//
// A connect storm on loopback for the benchmarks: PROCS processes that do
// nothing but socket(), connect(), close() to a local listener for SECONDS,
// and one process that accepts and closes. Closes reset (SO_LINGER 0), so
// no TIME_WAIT state runs the ephemeral ports out.
//
//   storm SECONDS PROCS   ->  prints "<connects> <seconds> <accepts>"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_accepting;

static void on_term(int sig)
{
	(void)sig;
	stop_accepting = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	int procs = argc > 2 ? atoi(argv[2]) : 2;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int one = 1, fds[2], afds[2], lfd;
	long total = 0, accepts = 0, n;
	pid_t acceptor;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len)) {
		perror("storm: listen");
		return 1;
	}
	if (pipe(afds))
		return 1;
	acceptor = fork();
	if (acceptor == 0) {
		/* SIGTERM ends the loop (no SA_RESTART: accept() returns EINTR). */
		struct sigaction sa = { .sa_handler = on_term };
		long count = 0;

		sigaction(SIGTERM, &sa, NULL);
		prctl(PR_SET_NAME, "storm-accept");
		while (!stop_accepting) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0) {
				count++;
				close(c);
			}
		}
		if (write(afds[1], &count, sizeof(count)) != sizeof(count))
			_exit(1);
		_exit(0);
	}
	if (pipe(fds))
		return 1;
	double start = now();
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			double end = start + seconds;
			long count = 0;

			prctl(PR_SET_NAME, "storm-connect");
			while (now() < end) {
				int s = socket(AF_INET, SOCK_STREAM, 0);

				setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0)
					count++;
				close(s);
			}
			if (write(fds[1], &count, sizeof(count)) != sizeof(count))
				_exit(1);
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++) {
		if (read(fds[0], &n, sizeof(n)) == sizeof(n))
			total += n;
		wait(NULL);
	}
	double took = now() - start;
	usleep(200000); /* let the acceptor take what is still queued */
	kill(acceptor, SIGTERM);
	if (read(afds[0], &accepts, sizeof(accepts)) != sizeof(accepts))
		accepts = -1;
	waitpid(acceptor, NULL, 0);
	printf("%ld %.3f %ld\n", total, took, accepts);
	return 0;
}
