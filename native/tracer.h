// SPDX-License-Identifier: Apache-2.0
//
// Tracer: one loaded BPF object and what hangs off it (links, a ring buffer
// or perf buffer watched by a uv_poll on Node's own loop). Generic: it knows object, rodata
// variable, program and map names, never what a tool prints.
#pragma once

#include <napi.h>
#include <uv.h>

#include <linux/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// Leaves new elements uninitialised: a batch grows by resize() and is
// then filled by a copy, so zeroing it first would be wasted.
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Bytes = std::vector<uint8_t, UninitializedAllocator<uint8_t>>;

struct bpf_object;
struct bpf_link;
struct bpf_map;
struct perf_buffer;
struct ring_buffer;

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Tracer(objectName, { rodata: { name: Buffer }, programs: [name],
  //                         reuseMaps?: { name: pinnedPath },
  //                         perfEventArrays?: [name], perCpuRings?: name,
  //                         unusedMaps?: [name] })
  // opens the embedded object, writes rodata, puts pinned maps in place of
  // the object's own, makes the ring buffers listed perf event arrays, sizes
  // an array of ring buffers for one per CPU, shrinks the maps the programs
  // will not use, loads the listed programs.
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value ReadMap(const Napi::CallbackInfo& info);

  void Open(Napi::Env env, const std::string& name, Napi::Object spec);
  void SetRodata(Napi::Env env, Napi::Object values);
  void SelectPrograms(Napi::Env env, Napi::Array names);
  void ReuseMaps(Napi::Env env, Napi::Object pinned);
  void RetypeMaps(Napi::Env env, Napi::Array names, unsigned type, uint32_t max_entries, const std::string& as);
  void SizePerCpuRings(Napi::Env env, const std::string& name);
  void OpenPerCpuRings(Napi::Env env, bpf_map* outer);
  void Teardown();

  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnIdle(uv_idle_t* handle);
  static void OnTimer(uv_timer_t* handle);
  void Watch();
  void StopIdle();
  static void OnSample(void* ctx, int cpu, void* data, uint32_t size);
  static int OnRecord(void* ctx, void* data, size_t size);
  bool Consume();
  void HoldBackRecent(uint64_t cutoff_ns);
  size_t MostFromOneRing() const;
  uint64_t MsUntilHeldDue() const;
  static void OnLost(void* ctx, int cpu, __u64 count);
  static void OnEnvCleanup(void* arg);
  bool Deliver();

  napi_env env_ = nullptr;
  bpf_object* obj_ = nullptr;
  std::vector<bpf_link*> links_;
  perf_buffer* pb_ = nullptr;
  ring_buffer* rb_ = nullptr;
  // One per ring buffer read: what OnRecord is called with, so that each
  // ring's share of a batch is known (the fullest one sets the next wait).
  struct Ring {
    Tracer* tracer;
    size_t bytes;  // read from it in the last read
  };
  std::vector<std::unique_ptr<Ring>> rings_;
  std::vector<int> ring_fds_;        // per-CPU rings this tracer created
  size_t per_cpu_ring_bytes_ = 0;    // each one's size
  int lost_map_fd_ = -1;   // the ring buffer's loss counter
  uint64_t lost_seen_ = 0;
  uv_poll_t* poll_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // reads a burst after the wakeup that began it
  uv_loop_t* loop_ = nullptr;
  int idle_turns_ = 0;
  size_t capacity_ = 0;        // bytes a batch may take before records are lost
  uint64_t coalesce_ms_ = 0;   // the wait before the next read of a burst
  bool cleanup_hook_ = false;

  // Filled by Consume(), handed to JS once per read: each record
  // is a little-endian u32 length followed by that many bytes.
  Bytes batch_;
  // Per-CPU rings: records too recent to be sure that no other CPU's ring
  // holds an older one not yet read; they go out with the next read.
  Bytes held_;
  uint64_t lost_ = 0;
  Napi::FunctionReference on_events_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

// pinnedMapInfo(path) -> { isMap, type, keySize, valueSize, maxEntries }
Napi::Value PinnedMapInfo(const Napi::CallbackInfo& info);

// ringBufferSupported() -> whether this kernel has BPF ring buffers (5.8+)
Napi::Value RingBufferSupported(const Napi::CallbackInfo& info);

// perCpuRingsSupported() -> whether it holds ring buffers in a map (5.10+)
Napi::Value PerCpuRingsSupported(const Napi::CallbackInfo& info);
