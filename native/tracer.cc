// SPDX-License-Identifier: Apache-2.0
#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>

#include "bpf_objects.h"
#include "errors.h"
#include "tracefs.h"

namespace {

// How long a burst of records is left to collect before it is read. A read
// has a fixed cost (~0.35 ms of CPU in the bench's storm: the reader wakes
// with cold caches), so the fewer the better: 20 -> 50 -> 100 ms took the
// tracer from ~0.79 to ~0.50 to ~0.41 us of CPU per row. Rows show at most
// kMaxCoalesceMs late; the first of a burst at once. The wait shrinks (down
// to kMinCoalesceMs) when records come fast enough to fill a quarter of
// the buffer before it ends, so that a faster machine loses none for it.
constexpr uint64_t kMinCoalesceMs = 5;
constexpr uint64_t kMaxCoalesceMs = 100;

// The smallest per-CPU ring buffer: a busy CPU's records for the shortest
// wait between reads, many times over.
constexpr size_t kMinRingBytes = 256 << 10;

// Per-CPU rings are read one after another, so a record that lands in the
// first ring just after it was read can be older than one read from the
// second. Records stamped this close to the start of a read are held for
// the next one, by which time every older record is in: a program stamps a
// record just before it sends it, and even a virtual CPU the host stops
// for a while between the two rarely stops this long. 1 ms was not enough
// in a QEMU guest on a busy 2-core host.
constexpr uint64_t kSettleNs = 10000000;

uint64_t MonotonicNs() {  // bpf_ktime_get_ns()'s clock
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

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

// 1. open the embedded object, 2. write rodata, 3. choose programs, 4. load.
void Tracer::Open(Napi::Env env, const std::string& name, Napi::Object spec) {
  const embedded_bpf_object* embedded = FindEmbedded(name);
  if (!embedded) throw Napi::Error::New(env, "no embedded BPF object named " + name);

  ClearLibbpfLog();
  errno = 0;
  obj_ = bpf_object__open_mem(embedded->bytes, embedded->size, nullptr);
  if (!obj_) ThrowBpfError(env, "open", LastError(), "open BPF object " + name);

  if (spec.Has("rodata")) SetRodata(env, spec.Get("rodata").As<Napi::Object>());
  SelectPrograms(env, spec.Get("programs").As<Napi::Array>());
  if (spec.Has("reuseMaps")) ReuseMaps(env, spec.Get("reuseMaps").As<Napi::Object>());
  if (spec.Has("perfEventArrays"))
    RetypeMaps(env, spec.Get("perfEventArrays").As<Napi::Array>(), BPF_MAP_TYPE_PERF_EVENT_ARRAY, 0,
               "a perf event array");
  if (spec.Has("perCpuRings")) SizePerCpuRings(env, spec.Get("perCpuRings").As<Napi::String>());
  if (spec.Has("unusedMaps"))
    RetypeMaps(env, spec.Get("unusedMaps").As<Napi::Array>(), BPF_MAP_TYPE_ARRAY, 1, "a one-entry array");

  int err = bpf_object__load(obj_);
  if (err) ThrowBpfError(env, "load", err, "load BPF object " + name);
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
        throw Napi::Error::New(env, "rodata " + key + " has size " + std::to_string(vsi->size) +
                                        ", got " + std::to_string(buf.Length()));
      memcpy(data.data() + vsi->offset, buf.Data(), vsi->size);
      found = true;
      break;
    }
    if (!found) throw Napi::Error::New(env, "no rodata variable named " + key);
  }
  int err = bpf_map__set_initial_value(rodata, data.data(), data.size());
  if (err) ThrowBpfError(env, "open", err, "set rodata");
}

void Tracer::SelectPrograms(Napi::Env env, Napi::Array names) {
  std::set<std::string> wanted;
  for (uint32_t i = 0; i < names.Length(); i++)
    wanted.insert(names.Get(i).As<Napi::String>().Utf8Value());
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    bool load = wanted.erase(bpf_program__name(prog)) > 0;
    bpf_program__set_autoload(prog, load);
  }
  if (!wanted.empty()) throw Napi::Error::New(env, "no BPF program named " + *wanted.begin());
}

// Each named map becomes a map of `type` with u32 keys and values and
// max_entries entries (0: libbpf sizes it to the CPUs), before load:
//  - ring buffers as perf event arrays (one ring per CPU), for kernels
//    older than BPF ring buffers (5.8);
//  - maps the programs will not touch in this mode (their branches are dead
//    code) as one-entry arrays, which any kernel creates and which hold no
//    ring buffer memory.
void Tracer::RetypeMaps(Napi::Env env, Napi::Array names, unsigned type, uint32_t max_entries,
                        const std::string& as) {
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).As<Napi::String>();
    bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!map) throw Napi::Error::New(env, "no BPF map named " + name);
    int err = bpf_map__set_type(map, static_cast<bpf_map_type>(type));
    if (!err) err = bpf_map__set_key_size(map, sizeof(__u32));
    if (!err) err = bpf_map__set_value_size(map, sizeof(__u32));
    if (!err) err = bpf_map__set_max_entries(map, max_entries);
    if (err) ThrowBpfError(env, "open", err, "make " + name + " " + as);
  }
}

// An array of ring buffers, one entry per possible CPU. Its inner map's
// size is what all the CPUs' rings together may take: each gets an equal
// share (a power of two, as ring buffers must be), at least kMinRingBytes.
void Tracer::SizePerCpuRings(Napi::Env env, const std::string& name) {
  bpf_map* outer = bpf_object__find_map_by_name(obj_, name.c_str());
  bpf_map* inner = outer ? bpf_map__inner_map(outer) : nullptr;
  if (!inner) throw Napi::Error::New(env, "no BPF array of ring buffers named " + name);
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) ThrowBpfError(env, "open", -cpus, "count the CPUs");
  size_t share = bpf_map__max_entries(inner) / cpus;
  size_t bytes = kMinRingBytes;
  while (bytes * 2 <= share) bytes *= 2;
  // The inner map stays as it is: a template that load creates and frees
  // (the kernel does not hold the rings put in its place to its size).
  int err = bpf_map__set_max_entries(outer, cpus);
  if (err) ThrowBpfError(env, "open", err, "size " + name + " for " + std::to_string(cpus) + " CPUs");
  per_cpu_ring_bytes_ = bytes;
}

// Creates CPU N's ring buffer and puts it at entry N of outer; one reader
// for all of them.
void Tracer::OpenPerCpuRings(Napi::Env env, bpf_map* outer) {
  int outer_fd = bpf_map__fd(outer);
  for (__u32 cpu = 0; cpu < bpf_map__max_entries(outer); cpu++) {
    std::string name = "events_cpu" + std::to_string(cpu);
    int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, name.substr(0, BPF_OBJ_NAME_LEN - 1).c_str(), 0, 0,
                            per_cpu_ring_bytes_, nullptr);
    if (fd < 0) ThrowBpfError(env, "ring_buffer", errno, "create CPU " + std::to_string(cpu) + "'s ring buffer");
    ring_fds_.push_back(fd);
    if (bpf_map_update_elem(outer_fd, &cpu, &fd, BPF_ANY))
      ThrowBpfError(env, "ring_buffer", errno, "install CPU " + std::to_string(cpu) + "'s ring buffer");
    rings_.push_back(std::make_unique<Ring>(Ring{this, 0}));
    if (!rb_) {
      rb_ = ring_buffer__new(fd, OnRecord, rings_.back().get(), nullptr);
      if (!rb_) ThrowBpfError(env, "ring_buffer", LastError(), "open ring buffer " + name);
    } else if (ring_buffer__add(rb_, fd, OnRecord, rings_.back().get())) {
      ThrowBpfError(env, "ring_buffer", LastError(), "open ring buffer " + name);
    }
  }
  capacity_ = per_cpu_ring_bytes_;  // each CPU's: the first to fill loses
}

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

// The object's map `name` becomes the map pinned at `path` (the user's
// --cgroupmap, say): the programs then read what the user writes there.
void Tracer::ReuseMaps(Napi::Env env, Napi::Object pinned) {
  Napi::Array names = pinned.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).As<Napi::String>();
    std::string path = pinned.Get(name).As<Napi::String>();
    bpf_map* map = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!map) throw Napi::Error::New(env, "no BPF map named " + name);
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) ThrowBpfError(env, "pinned_map", errno, "open pinned map " + path);
    int err = bpf_map__reuse_fd(map, fd);  // takes its own duplicate
    close(fd);
    if (err) ThrowBpfError(env, "pinned_map", err, "use pinned map " + path);
  }
}

Napi::Value PinnedMapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowBpfError(env, "pinned_map", errno, "open pinned object " + path);
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
      ThrowBpfError(env, "pinned_map", e, "read pinned map " + path);
    }
    out.Set("type", Napi::Number::New(env, map_info.type));
    out.Set("keySize", Napi::Number::New(env, map_info.key_size));
    out.Set("valueSize", Napi::Number::New(env, map_info.value_size));
    out.Set("maxEntries", Napi::Number::New(env, map_info.max_entries));
  }
  close(fd);
  return out;
}

// attach([name]): all or nothing; on failure the links made here are undone.
Napi::Value Tracer::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!obj_) throw Napi::Error::New(env, "tracer is closed");
  Napi::Array names = info[0].As<Napi::Array>();
  size_t first = links_.size();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string name = names.Get(i).As<Napi::String>();
    bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
    ClearLibbpfLog();
    errno = 0;
    bpf_link* link = nullptr;
    if (prog && bpf_program__type(prog) == BPF_PROG_TYPE_TRACEPOINT && !TracefsMounted())
      link = AttachTracepointByPrivateTracefs(prog);
    else if (prog)
      link = bpf_program__attach(prog);
    if (!link) {
      int err = prog ? LastError() : ENOENT;
      while (links_.size() > first) {
        bpf_link__destroy(links_.back());
        links_.pop_back();
      }
      ThrowBpfError(env, "attach", err, "attach " + name, name);
    }
    links_.push_back(link);
  }
  return env.Undefined();
}

// start(mapName, { pagesPerCpu, lostMap }, onEvents(batch: Buffer | null, lost: number))
// reads a ring buffer map, an array of ring buffers (sized by perCpuRings
// at open: one ring per CPU is made here, and each batch holds back its
// newest records, see kSettleNs), or a perf event array with pagesPerCpu
// pages per CPU. A ring buffer's losses are counted by the programs in
// lostMap (an array whose entry 0 is a u64); a perf buffer reports its own.
Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!obj_) throw Napi::Error::New(env, "tracer is closed");
  if (pb_ || rb_) throw Napi::Error::New(env, "tracer already started");
  std::string map_name = info[0].As<Napi::String>();
  Napi::Object opts = info[1].As<Napi::Object>();
  bpf_map* map = bpf_object__find_map_by_name(obj_, map_name.c_str());
  if (!map) throw Napi::Error::New(env, "no BPF map named " + map_name);

  ClearLibbpfLog();
  errno = 0;
  int fd = -1;
  bpf_map_type type = bpf_map__type(map);
  if (type == BPF_MAP_TYPE_RINGBUF || type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
    if (opts.Has("lostMap")) {
      std::string lost_name = opts.Get("lostMap").As<Napi::String>();
      bpf_map* lost = bpf_object__find_map_by_name(obj_, lost_name.c_str());
      if (!lost) throw Napi::Error::New(env, "no BPF map named " + lost_name);
      lost_map_fd_ = bpf_map__fd(lost);
    }
    if (type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
      OpenPerCpuRings(env, map);  // what it made before a failure goes at close()
    } else {
      rings_.push_back(std::make_unique<Ring>(Ring{this, 0}));
      rb_ = ring_buffer__new(bpf_map__fd(map), OnRecord, rings_.back().get(), nullptr);
      if (!rb_) ThrowBpfError(env, "ring_buffer", LastError(), "open ring buffer " + map_name);
      capacity_ = bpf_map__max_entries(map);
    }
    fd = ring_buffer__epoll_fd(rb_);
  } else {
    size_t pages = opts.Get("pagesPerCpu").As<Napi::Number>().Uint32Value();
    pb_ = perf_buffer__new(bpf_map__fd(map), pages, OnSample, OnLost, this, nullptr);
    if (!pb_) ThrowBpfError(env, "perf_buffer", LastError(), "open perf buffer " + map_name);
    fd = perf_buffer__epoll_fd(pb_);
    capacity_ = pages * sysconf(_SC_PAGESIZE);  // each CPU's: the first to fill loses
  }

  on_events_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "tcpconnect:perf_buffer");

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  loop_ = loop;
  poll_ = new uv_poll_t;
  poll_->data = this;
  int err = uv_poll_init(loop, poll_, fd);
  if (err) {
    uv_poll_t* p = poll_;
    poll_ = nullptr;
    delete p;
    throw Napi::Error::New(env, std::string("failed to watch ") + map_name + ": " + uv_strerror(err));
  }
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(loop, timer_);
  Watch();
  return env.Undefined();
}

// Wake on the next record. A ring buffer is readable for as long as it
// holds data. A perf buffer is not: libuv adds the fd to its epoll at the
// next loop turn, and that epoll_ctl polls the perf rings, which clears
// their readiness, so samples that arrive before it would wait for the next
// wakeup. An idle handle keeps the loop from blocking and consumes once more
// after the registration.
void Tracer::Watch() {
  uv_poll_start(poll_, UV_READABLE, OnReadable);
  if (!pb_) return;
  idle_turns_ = 0;
  if (!idle_) {
    idle_ = new uv_idle_t;
    idle_->data = this;
    uv_idle_init(loop_, idle_);
  }
  uv_idle_start(idle_, OnIdle);
}

void Tracer::OnIdle(uv_idle_t* handle) {
  auto* self = static_cast<Tracer*>(handle->data);
  // The first turn runs before libuv's epoll_ctl, the second after it.
  if (++self->idle_turns_ < 2) return;
  self->StopIdle();
  if (!self->Consume()) return;
  self->Deliver();
}

void Tracer::StopIdle() {
  if (!idle_) return;
  uv_idle_stop(idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(idle_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  idle_ = nullptr;
}

void Tracer::OnSample(void* ctx, int, void* data, uint32_t size) {
  auto* self = static_cast<Tracer*>(ctx);
  uint8_t len[4] = {static_cast<uint8_t>(size), static_cast<uint8_t>(size >> 8),
                    static_cast<uint8_t>(size >> 16), static_cast<uint8_t>(size >> 24)};
  size_t at = self->batch_.size();
  self->batch_.resize(at + 4 + size);  // capacity kept between reads: no allocation
  memcpy(&self->batch_[at], len, 4);
  memcpy(&self->batch_[at + 4], data, size);
}

int Tracer::OnRecord(void* ctx, void* data, size_t size) {
  auto* ring = static_cast<Ring*>(ctx);
  ring->bytes += size;
  OnSample(ring->tracer, -1, data, static_cast<uint32_t>(size));
  return 0;
}

// Moves the records stamped at or after cutoff_ns (a u64 at the start of
// every record: bpf/tcpconnect.h) from batch_ to held_, in order.
void Tracer::HoldBackRecent(uint64_t cutoff_ns) {
  size_t size = batch_.size(), r = 0, w = 0;
  while (r + 4 <= size) {
    uint32_t len;
    memcpy(&len, &batch_[r], sizeof len);
    if (len > size - r - 4) break;
    uint64_t ts = 0;
    if (len >= sizeof ts) memcpy(&ts, &batch_[r + 4], sizeof ts);
    if (len >= sizeof ts && ts >= cutoff_ns) {
      held_.insert(held_.end(), batch_.begin() + r, batch_.begin() + r + 4 + len);
    } else {
      if (w != r) memmove(&batch_[w], &batch_[r], 4 + len);
      w += 4 + len;
    }
    r += 4 + len;
  }
  if (r < size) {  // a malformed tail goes out as it is
    memmove(&batch_[w], &batch_[r], size - r);
    w += size - r;
  }
  batch_.resize(w);
}

// Milliseconds until the oldest record held back may go out (at least 1).
uint64_t Tracer::MsUntilHeldDue() const {
  uint64_t oldest = UINT64_MAX;
  for (size_t r = 0; r + 4 + sizeof(uint64_t) <= held_.size();) {
    uint32_t len;
    uint64_t ts;
    memcpy(&len, &held_[r], sizeof len);
    memcpy(&ts, &held_[r + 4], sizeof ts);
    oldest = std::min(oldest, ts);
    r += 4 + len;
  }
  uint64_t now = MonotonicNs();
  if (oldest == UINT64_MAX || oldest + kSettleNs <= now) return 1;
  return (oldest + kSettleNs - now) / 1000000 + 1;
}

// The most bytes any one ring buffer gave in the last read (a perf
// buffer's: the whole batch, as if from one CPU).
size_t Tracer::MostFromOneRing() const {
  if (rings_.empty()) return batch_.size();
  size_t most = 0;
  for (const auto& r : rings_) most = std::max(most, r->bytes);
  return most;
}

void Tracer::OnLost(void* ctx, int, __u64 count) { static_cast<Tracer*>(ctx)->lost_ += count; }

// Reads everything the buffer holds into batch_. False once torn down.
bool Tracer::Consume() {
  if (rb_) {
    for (auto& r : rings_) r->bytes = 0;
    bool merged = rings_.size() > 1;
    uint64_t cutoff = merged ? MonotonicNs() - kSettleNs : 0;
    batch_.insert(batch_.begin(), held_.begin(), held_.end());
    held_.clear();
    ring_buffer__consume(rb_);
    if (merged) HoldBackRecent(cutoff);
    if (lost_map_fd_ >= 0) {
      __u32 zero = 0;
      __u64 total = 0;
      if (bpf_map_lookup_elem(lost_map_fd_, &zero, &total) == 0 && total > lost_seen_) {
        lost_ += total - lost_seen_;
        lost_seen_ = total;
      }
    }
    return true;
  }
  if (pb_) {
    perf_buffer__consume(pb_);
    return true;
  }
  return false;
}

void Tracer::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<Tracer*>(handle->data);
  // Not perf_buffer__poll(pb, 0): perf clears a ring's readiness when it is
  // polled, and the outer epoll (libuv's) has just done that, so the inner
  // epoll_wait would see nothing. Consuming every ring is O(CPUs) and exact.
  if (status < 0 || !self->Consume()) return;
  self->Deliver();
  if (!self->poll_) return;  // closed from the callback
  // The first record of a burst is handed over at once; the rest of the
  // burst is read in batches, each after a wait (see kMaxCoalesceMs). A
  // perf buffer wakes the reader for every sample, a ring buffer for the
  // first record after each read: either way one read per batch, not one
  // per record. A burst starts with the shortest wait, in case it is fast.
  uv_poll_stop(self->poll_);
  self->coalesce_ms_ = kMinCoalesceMs;
  uv_timer_start(self->timer_, OnTimer, self->coalesce_ms_, 0);
}

void Tracer::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<Tracer*>(handle->data);
  if (!self->Consume()) return;
  size_t bytes = self->MostFromOneRing();
  bool busy = self->Deliver() || !self->held_.empty();
  if (!self->poll_) return;
  if (!busy) {
    self->Watch();  // quiet again: back to waking on the next sample
    return;
  }
  // Wait as long as it takes this rate to fill a quarter of the buffer;
  // if this read found nothing new, only until the records held back are
  // due (while records flow, the next read takes them anyway).
  uint64_t fill = bytes ? self->coalesce_ms_ * (self->capacity_ / 4) / bytes : kMaxCoalesceMs;
  uint64_t wait = std::clamp(fill, kMinCoalesceMs, kMaxCoalesceMs);
  if (bytes == 0 && !self->held_.empty()) wait = std::clamp<uint64_t>(self->MsUntilHeldDue(), 1, wait);
  self->coalesce_ms_ = wait;
  uv_timer_start(self->timer_, OnTimer, wait, 0);
}

// One call into JS per wakeup, with everything that wakeup brought.
// Returns whether there was anything. The batch is lent, not copied: a
// Buffer over batch_ itself, detached when the callback returns (it reads
// as empty after that), so the next read can reuse the memory.
bool Tracer::Deliver() {
  if (batch_.empty() && lost_ == 0) return false;
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  Napi::Buffer<uint8_t> view;
  if (!batch_.empty()) view = Napi::Buffer<uint8_t>::New(env, batch_.data(), batch_.size(), [](Napi::Env, uint8_t*) {});
  Napi::Value batch = view.IsEmpty() ? env.Null() : view.As<Napi::Value>();
  Napi::Value lost = Napi::Number::New(env, static_cast<double>(lost_));
  lost_ = 0;
  try {
    on_events_.MakeCallback(Value(), {batch, lost}, *async_);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env_, e.Value());
  }
  if (!view.IsEmpty()) view.ArrayBuffer().Detach();
  batch_.clear();
  return true;
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
      if (cpus <= 0) ThrowBpfError(env, "read_map", -cpus, "count the CPUs");
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
  if (errno != ENOENT) ThrowBpfError(env, "read_map", errno, "read map " + name);
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
}

// Reverse order of acquisition; safe to call any number of times, from
// close(), the finalizer or the env cleanup hook.
void Tracer::Teardown() {
  StopIdle();
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (pb_) {
    perf_buffer__free(pb_);
    pb_ = nullptr;
  }
  if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
  rings_.clear();
  for (int fd : ring_fds_) close(fd);
  ring_fds_.clear();
  lost_map_fd_ = -1;
  while (!links_.empty()) {
    bpf_link__destroy(links_.back());
    links_.pop_back();
  }
  if (obj_) {
    bpf_object__close(obj_);
    obj_ = nullptr;
  }
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    cleanup_hook_ = false;
  }
  if (!on_events_.IsEmpty()) on_events_.Reset();
  async_.reset();
}
