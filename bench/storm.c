// SPDX-License-Identifier: Apache-2.0
//
// A connect storm on loopback for the benchmarks: PROCS processes that do
// nothing but socket(), connect(), close() to a local listener, and one
// process that accepts and closes. Closes reset (SO_LINGER 0), so no
// TIME_WAIT state runs the ephemeral ports out.
//
// The storm lives for the whole bench and runs only when told, so that a
// tracer starts and stops while it is paused and every measured window
// sees a storm already at full speed:
//
//   storm PROCS          prints "ready", then reads commands on stdin:
//   run SETTLE WINDOW    runs the storm, counts the connects made in the
//                        WINDOW seconds that follow the first SETTLE, pauses
//                        it, waits for the acceptor to catch up, and prints
//                        "<connects> <accepts> <seconds> <window connects> <window seconds>"
//                        (the first three over the whole run)
//   end of input         ends the storm
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 64

// Shared by every process of the storm; each counter on a cache line of
// its own, so that counting costs the storm nothing.
struct control {
	int run;
	char pad0[60];
	struct {
		long connects;
		int paused;
		char pad[52];
	} worker[MAX_PROCS];
	long accepts;
};

static struct control *ctl;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static void worker(int p, const struct sockaddr_in *addr)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	prctl(PR_SET_NAME, "storm-connect");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		if (!LOAD(ctl->run)) {
			STORE(ctl->worker[p].paused, 1);
			while (!LOAD(ctl->run))
				usleep(1000);
			STORE(ctl->worker[p].paused, 0);
		}
		int s = socket(AF_INET, SOCK_STREAM, 0);

		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(s, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
			STORE(ctl->worker[p].connects, ctl->worker[p].connects + 1);
		close(s);
	}
}

static long connects(int procs)
{
	long total = 0;

	for (int p = 0; p < procs; p++)
		total += LOAD(ctl->worker[p].connects);
	return total;
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 2;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int one = 1, lfd;
	pid_t pids[MAX_PROCS + 1];
	char line[128];

	if (procs < 1 || procs > MAX_PROCS) {
		fprintf(stderr, "storm: PROCS must be 1 to %d\n", MAX_PROCS);
		return 1;
	}
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ctl == MAP_FAILED || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len)) {
		perror("storm: listen");
		return 1;
	}
	if ((pids[procs] = fork()) == 0) {
		prctl(PR_SET_NAME, "storm-accept");
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0) {
				STORE(ctl->accepts, ctl->accepts + 1);
				close(c);
			}
		}
	}
	for (int p = 0; p < procs; p++)
		if ((pids[p] = fork()) == 0)
			worker(p, &addr);
	for (int p = 0; p < procs; p++)
		while (!LOAD(ctl->worker[p].paused))
			usleep(1000);
	printf("ready\n");
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		double settle, window;

		if (sscanf(line, "run %lf %lf", &settle, &window) != 2) {
			fprintf(stderr, "storm: unknown command: %s", line);
			continue;
		}
		long c0 = connects(procs), a0 = LOAD(ctl->accepts);
		double t0 = now();

		STORE(ctl->run, 1);
		sleep_s(settle);
		long w0 = connects(procs);
		double w0t = now();

		sleep_s(window);
		long w1 = connects(procs);
		double w1t = now();

		STORE(ctl->run, 0);
		for (int p = 0; p < procs; p++)
			while (!LOAD(ctl->worker[p].paused))
				usleep(100);
		double t1 = now();
		long c1 = connects(procs);

		/* Every connect is accepted in the end: wait for the acceptor (1 s at most). */
		for (int i = 0; i < 1000 && LOAD(ctl->accepts) - a0 < c1 - c0; i++)
			usleep(1000);
		printf("%ld %ld %.4f %ld %.4f\n", c1 - c0, LOAD(ctl->accepts) - a0, t1 - t0, w1 - w0, w1t - w0t);
		fflush(stdout);
	}
	for (int p = 0; p <= procs; p++) {
		kill(pids[p], SIGKILL);
		waitpid(pids[p], NULL, 0);
	}
	return 0;
}
