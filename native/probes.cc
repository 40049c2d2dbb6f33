// SPDX-License-Identifier: Apache-2.0
#include "probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "errors.h"

Napi::Value PerCpuRingsSupported(const Napi::CallbackInfo& info) {
  // Ring buffers as inner maps (5.10+): make one small array of them.
  int ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "probe_ring", 0, 0, sysconf(_SC_PAGESIZE), nullptr);
  bool ok = false;
  if (ring >= 0) {
    LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = static_cast<__u32>(ring));
    int outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "probe_rings", sizeof(__u32), sizeof(__u32), 1, &opts);
    ok = outer >= 0;
    if (ok) close(outer);
    close(ring);
  }
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value RingBufferSupported(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1);
}

// Whether a program of `type` may call helper `id`: libbpf_probe_bpf_helper's
// test (a call, then exit), with the verifier's refusals read here, since
// libbpf 1.1 (Debian 12's) takes "program of this type cannot use helper"
// for a yes. A refusal of the call's arguments still means the helper is there.
static bool HelperAllowed(bpf_prog_type type, bpf_func_id id) {
  const bpf_insn insns[] = {
      {.code = BPF_JMP | BPF_CALL, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = id},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 1},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  char log[4096] = "";
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1, .log_size = sizeof log, .log_buf = log);
  int fd = bpf_prog_load(type, nullptr, "GPL", insns, std::size(insns), &opts);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  for (const char* refusal : {"invalid func ", "unknown func ", "program of this type cannot use helper "})
    if (strstr(log, refusal)) return false;
  return true;
}

Napi::Value ConnectRowsSupported(const Napi::CallbackInfo& info) {
  static const bpf_func_id kUsed[] = {
      BPF_FUNC_get_current_pid_tgid,      BPF_FUNC_get_current_uid_gid, BPF_FUNC_get_current_cgroup_id,
      BPF_FUNC_current_task_under_cgroup, BPF_FUNC_get_current_task,    BPF_FUNC_get_current_task_btf,
      BPF_FUNC_skc_to_tcp_sock,
  };
  bool ok = true;
  for (bpf_func_id id : kUsed) ok = ok && HelperAllowed(BPF_PROG_TYPE_SOCK_OPS, id);
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value OpenPinnedMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowBpfError(env, errno, "open pinned object " + path);
  // A pinned program or link has no map_type line in its fdinfo.
  bool is_map = false;
  std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(fdinfo, line);)
    if (line.rfind("map_type:", 0) == 0) is_map = true;
  Napi::Object out = Napi::Object::New(env);
  out.Set("isMap", Napi::Boolean::New(env, is_map));
  if (is_map) {
    bpf_map_info map_info = {};
    __u32 len = sizeof(map_info);
    int err = bpf_obj_get_info_by_fd(fd, &map_info, &len);
    if (err) {
      int e = errno;
      close(fd);
      ThrowBpfError(env, e, "read pinned map " + path);
    }
    out.Set("type", Napi::Number::New(env, map_info.type));
    out.Set("keySize", Napi::Number::New(env, map_info.key_size));
  }
  out.Set("fd", Napi::Number::New(env, fd));  // the caller's to close
  return out;
}

Napi::Value NamespaceType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowBpfError(env, errno, "open " + path);
  int type = ioctl(fd, NS_GET_NSTYPE);
  close(fd);
  if (type < 0) return env.Null();
  static const std::pair<int, const char*> kKinds[] = {
      {CLONE_NEWNET, "net"}, {CLONE_NEWNS, "mnt"},    {CLONE_NEWPID, "pid"},       {CLONE_NEWUTS, "uts"},
      {CLONE_NEWIPC, "ipc"}, {CLONE_NEWUSER, "user"}, {CLONE_NEWCGROUP, "cgroup"},
  };
  for (const auto& [flag, kind] : kKinds)
    if (type == flag) return Napi::String::New(env, kind);
  return Napi::String::New(env, "other");
}
