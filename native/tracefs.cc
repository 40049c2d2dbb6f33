// SPDX-License-Identifier: Apache-2.0
#include "tracefs.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";

// The tracepoint a program's section names: "tracepoint/CAT/NAME" or "tp/CAT/NAME".
bool TracepointOf(bpf_program* prog, std::string* path) {
  std::string sec = bpf_program__section_name(prog);
  for (const char* prefix : {"tracepoint/", "tp/"}) {
    size_t n = strlen(prefix);
    if (sec.compare(0, n, prefix) == 0 && sec.find('/', n) != std::string::npos) {
      *path = std::string(kTracefs) + "/events/" + sec.substr(n) + "/id";
      return true;
    }
  }
  return false;
}

// In a child (fork from a threaded process: only system calls until _exit):
// a private mount namespace, tracefs mounted in it, the id read and written
// to the pipe. The namespace, and the mount with it, ends with the child.
long ReadIdInPrivateNamespace(const std::string& path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return -err;
  }
  if (pid == 0) {
    char buf[32];
    int err = 0;
    ssize_t n = 0;
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tracefs", kTracefs, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      err = errno;
    } else {
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        err = errno;
      else if ((n = read(fd, buf, sizeof(buf) - 1)) <= 0)
        err = n < 0 ? errno : EINVAL;
    }
    if (err != 0) {
      char reply[] = {'E', static_cast<char>(err)};
      (void)!write(fds[1], reply, sizeof(reply));
    } else {
      (void)!write(fds[1], buf, n);
    }
    _exit(0);
  }
  close(fds[1]);
  char buf[32] = {0};
  ssize_t n;
  do n = read(fds[0], buf, sizeof(buf) - 1);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(fds[0]);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n <= 0) return -(n < 0 ? err : EIO);
  if (buf[0] == 'E') return -static_cast<unsigned char>(buf[1]);
  return strtol(buf, nullptr, 10);
}

}  // namespace

bool TracefsMounted() {
  // Where libbpf looks: tracefs's own mount point, or the one under debugfs.
  return access((std::string(kTracefs) + "/events").c_str(), F_OK) == 0 ||
         access("/sys/kernel/debug/tracing/events", F_OK) == 0;
}

bpf_link* AttachTracepointByPrivateTracefs(bpf_program* prog) {
  std::string path;
  if (!TracepointOf(prog, &path)) {
    errno = EINVAL;
    return nullptr;
  }
  long id = ReadIdInPrivateNamespace(path);
  if (id <= 0) {
    errno = id < 0 ? static_cast<int>(-id) : ENOENT;
    return nullptr;
  }
  // As libbpf attaches a tracepoint: one perf event, all processes, CPU 0.
  perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.size = sizeof(attr);
  attr.config = static_cast<__u64>(id);
  int pfd = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC));
  if (pfd < 0) return nullptr;
  bpf_link* link = bpf_program__attach_perf_event(prog, pfd);
  if (!link) {
    int err = errno;
    close(pfd);
    errno = err;
  }
  return link;
}
