// SPDX-License-Identifier: Apache-2.0
#include "object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "bpf_objects.h"
#include "errors.h"
#include "tracefs.h"

namespace {

const embedded_bpf_object* FindEmbedded(const std::string& name) {
  for (const auto& o : embedded_bpf_objects)
    if (name == o.name) return &o;
  return nullptr;
}

// libbpf 1.x returns NULL and sets errno; keep errno meaningful.
int LastError(int fallback = EINVAL) { return errno ? errno : fallback; }

}  // namespace

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod("attach", &Tracer::Attach),
                         InstanceMethod("start", &Tracer::Start),
                         InstanceMethod("drain", &Tracer::Drain),
                         InstanceMethod("close", &Tracer::Close),
                         InstanceMethod("readMap", &Tracer::ReadMap),
                     });
}

Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
    throw Napi::TypeError::New(env, "expected (objectName, spec)");
  napi_add_env_cleanup_hook(env, OnEnvCleanup, this);
  cleanup_hook_ = true;
  try {
    Open(env, info[0].As<Napi::String>(), info[1].As<Napi::Object>());
  } catch (...) {
    Teardown();
    throw;
  }
}

Tracer::~Tracer() { Teardown(); }

void Tracer::Open(Napi::Env env, const std::string& name, Napi::Object spec) {
  const embedded_bpf_object* embedded = FindEmbedded(name);
  if (!embedded) throw Napi::Error::New(env, "no embedded BPF object named " + name);

  ClearLibbpfLog();
  errno = 0;
  obj_ = bpf_object__open_mem(embedded->bytes, embedded->size, nullptr);
  if (!obj_) ThrowBpfError(env, LastError(), "open BPF object " + name);

  if (spec.Has("rodata")) SetRodata(env, spec.Get("rodata").As<Napi::Object>());
  SelectPrograms(env, spec.Get("programs").As<Napi::Array>());
  if (spec.Has("reuseMaps")) ReuseMaps(env, spec.Get("reuseMaps").As<Napi::Object>());
  std::string transport = spec.Get("transport").ToString();
  if (!ParseTransport(transport, &transport_)) throw Napi::TypeError::New(env, "no transport named " + transport);
  per_cpu_ring_bytes_ = ShapeTransportMaps(env, obj_, transport_);

  int err = bpf_object__load(obj_);
  if (err) ThrowBpfError(env, err, "load BPF object " + name);
  if (spec.Has("mapUpdates")) UpdateMaps(env, spec.Get("mapUpdates").As<Napi::Array>());
}

// [{map, key, value}]: entries written once the maps exist, before any
// program is attached (--cgroup's directory fds into cgroup_dirs).
void Tracer::UpdateMaps(Napi::Env env, Napi::Array updates) {
  for (uint32_t i = 0; i < updates.Length(); i++) {
    Napi::Object u = updates.Get(i).As<Napi::Object>();
    std::string name = u.Get("map").ToString();
    auto key = u.Get("key").As<Napi::Buffer<uint8_t>>();
    auto value = u.Get("value").As<Napi::Buffer<uint8_t>>();
    bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!map) throw Napi::Error::New(env, "no BPF map named " + name);
    int err = bpf_map__update_elem(map, key.Data(), key.Length(), value.Data(), value.Length(), BPF_ANY);
    if (err) ThrowBpfError(env, err, "update map " + name);
  }
}

// Each value is a Buffer of exactly the variable's size, found through the
// object's BTF: the kernel side's types are the only definition of them.
void Tracer::SetRodata(Napi::Env env, Napi::Object values) {
  bpf_map* rodata = nullptr;
  bpf_map* map;
  bpf_object__for_each_map(map, obj_) {
    if (bpf_map__is_internal(map) && strstr(bpf_map__name(map), ".rodata")) rodata = map;
  }
  const btf* btf = bpf_object__btf(obj_);
  int sec_id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
  size_t size = 0;
  auto* initial = rodata ? static_cast<const uint8_t*>(bpf_map__initial_value(rodata, &size)) : nullptr;
  if (!initial || sec_id < 0) throw Napi::Error::New(env, "BPF object has no .rodata with BTF");
  std::vector<uint8_t> data(initial, initial + size);

  const btf_type* sec = btf__type_by_id(btf, sec_id);
  Napi::Array keys = values.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string key = keys.Get(i).As<Napi::String>();
    Napi::Value v = values.Get(key);
    if (!v.IsBuffer()) throw Napi::TypeError::New(env, "rodata " + key + " must be a Buffer");
    auto buf = v.As<Napi::Buffer<uint8_t>>();
    const btf_var_secinfo* vsi = btf_var_secinfos(sec);
    bool found = false;
    for (int j = 0; j < btf_vlen(sec); j++, vsi++) {
      const btf_type* var = btf__type_by_id(btf, vsi->type);
      if (key != btf__name_by_offset(btf, var->name_off)) continue;
      if (buf.Length() != vsi->size || vsi->offset + vsi->size > size)
        throw Napi::Error::New(
            env, "rodata " + key + " has size " + std::to_string(vsi->size) + ", got " + std::to_string(buf.Length()));
      memcpy(data.data() + vsi->offset, buf.Data(), vsi->size);
      found = true;
      break;
    }
    if (!found) throw Napi::Error::New(env, "no rodata variable named " + key);
  }
  int err = bpf_map__set_initial_value(rodata, data.data(), data.size());
  if (err) ThrowBpfError(env, err, "set rodata");
}

void Tracer::SelectPrograms(Napi::Env env, Napi::Array names) {
  std::set<std::string> wanted;
  for (uint32_t i = 0; i < names.Length(); i++) wanted.insert(names.Get(i).As<Napi::String>().Utf8Value());
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    bool load = wanted.erase(bpf_program__name(prog)) > 0;
    bpf_program__set_autoload(prog, load);
  }
  if (!wanted.empty()) throw Napi::Error::New(env, "no BPF program named " + *wanted.begin());
}

// The object's map `name` becomes the pinned map the user named (its fd,
// opened and checked by the caller): the programs then read what the user
// writes there.
void Tracer::ReuseMaps(Napi::Env env, Napi::Object pinned) {
  Napi::Array names = pinned.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).As<Napi::String>();
    int fd = pinned.Get(name).As<Napi::Number>().Int32Value();
    bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!map) throw Napi::Error::New(env, "no BPF map named " + name);
    int err = bpf_map__reuse_fd(map, fd);  // takes its own duplicate
    if (err) ThrowBpfError(env, err, "use pinned map " + name);
  }
}

// A cgroup program (sock_ops) on the cgroup v2 directory at path, as a link:
// closing it (at exit, or when the process dies) detaches it.
static bpf_link* AttachCgroup(bpf_program* prog, const std::string& path) {
  if (path.empty()) {
    errno = EINVAL;  // the caller found no cgroup v2 root to name
    return nullptr;
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  bpf_link* link = bpf_program__attach_cgroup(prog, fd);
  int err = errno;
  close(fd);
  errno = err;
  return link;
}

// attach([name], cgroupRoot?): all or nothing; on failure the links made
// here are undone. cgroupRoot: where sock_ops programs attach.
Napi::Value Tracer::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!obj_) throw Napi::Error::New(env, "tracer is closed");
  Napi::Array names = info[0].As<Napi::Array>();
  std::string cgroup_root = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  size_t first = links_.size();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).As<Napi::String>();
    bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
    ClearLibbpfLog();
    errno = 0;
    bpf_link* link = nullptr;
    if (prog && bpf_program__type(prog) == BPF_PROG_TYPE_SOCK_OPS)
      link = AttachCgroup(prog, cgroup_root);
    else if (prog && bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT && !TracefsMounted())
      link = AttachTracepointByPrivateTracefs(prog);
    else if (prog)
      link = bpf_program__attach(prog);
    if (!link) {
      int err = prog ? LastError() : ENOENT;
      while (links_.size() > first) {
        bpf_link__destroy(links_.back());
        links_.pop_back();
      }
      ThrowBpfError(env, err, "attach " + name);
    }
    links_.push_back(link);
  }
  return env.Undefined();
}

Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!obj_) throw Napi::Error::New(env, "tracer is closed");
  if (reader_) throw Napi::Error::New(env, "tracer already started");
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "expected (onEvents)");
  reader_ = std::make_unique<Reader>(env, obj_, transport_, per_cpu_ring_bytes_, info[0].As<Napi::Function>());
  reader_->Start();  // what it took before a failure goes at close()
  return env.Undefined();
}

Napi::Value Tracer::Drain(const Napi::CallbackInfo& info) {
  Detach();
  if (reader_) reader_->Flush();
  return info.Env().Undefined();
}

void Tracer::Detach() {
  while (!links_.empty()) {
    bpf_link__destroy(links_.back());
    links_.pop_back();
  }
}

// readMap(name) -> [[key: Buffer, value: Buffer], ...]: every entry of a
// hash or array map, in the kernel's iteration order. A per-CPU map's
// value is every possible CPU's, one after another, each 8-byte aligned.
Napi::Value Tracer::ReadMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!obj_) throw Napi::Error::New(env, "tracer is closed");
  std::string name = info[0].As<Napi::String>();
  bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!map) throw Napi::Error::New(env, "no BPF map named " + name);
  int fd = bpf_map__fd(map);
  size_t key_size = bpf_map__key_size(map), value_size = bpf_map__value_size(map);
  switch (bpf_map__type(map)) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH: {
      int cpus = libbpf_num_possible_cpus();
      if (cpus <= 0) ThrowBpfError(env, -cpus, "count the CPUs");
      value_size = (value_size + 7) / 8 * 8 * cpus;  // every CPU's value, 8-byte aligned
      break;
    }
    default:
      break;
  }
  std::vector<uint8_t> key(key_size), next(key_size), value(value_size);
  Napi::Array entries = Napi::Array::New(env);
  uint32_t n = 0;
  const void* prev = nullptr;  // NULL asks for the first key
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    key.swap(next);
    prev = key.data();
    if (bpf_map_lookup_elem(fd, key.data(), value.data()) != 0) continue;  // deleted meanwhile
    Napi::Array entry = Napi::Array::New(env, 2);
    entry.Set(0u, Napi::Buffer<uint8_t>::Copy(env, key.data(), key_size));
    entry.Set(1u, Napi::Buffer<uint8_t>::Copy(env, value.data(), value_size));
    entries.Set(n++, entry);
  }
  if (errno != ENOENT) ThrowBpfError(env, errno, "read map " + name);
  return entries;
}

Napi::Value Tracer::Close(const Napi::CallbackInfo& info) {
  Teardown();
  return info.Env().Undefined();
}

void Tracer::OnEnvCleanup(void* arg) {
  auto* self = static_cast<Tracer*>(arg);
  self->cleanup_hook_ = false;  // the hook is being run; do not remove it
  self->Teardown();
  self->reader_.reset();  // no callback runs once the env is going
}

// Reverse order of acquisition; safe to call any number of times, from
// close(), the finalizer or the env cleanup hook. close() may come from
// the reader's own callback: the reader stops, and goes with the Tracer.
void Tracer::Teardown() {
  if (reader_) reader_->Stop();
  Detach();
  if (obj_) {
    bpf_object__close(obj_);
    obj_ = nullptr;
  }
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    cleanup_hook_ = false;
  }
}
