// SPDX-License-Identifier: Apache-2.0
//
// The reader: the one way records come up from the kernel, and the only
// code that frames them and puts them in time order. It owns the transport
// (a BPF ring buffer per CPU, one shared ring, or a perf event array: the
// maps of bpf/common.bpf.h), shapes its maps before load, watches it with a
// uv_poll on Node's own loop, and hands JS one ordered batch per read.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "batch.h"

struct bpf_object;
struct perf_buffer;
struct ring_buffer;

// How records leave the kernel. Chosen once, by src/events.ts.
enum class Transport { kPerCpuRings, kSharedRing, kPerfBuffer };

// "per-cpu-rings", "shared-ring" or "perf-buffer"; false for anything else.
bool ParseTransport(const std::string& name, Transport* out);

// Before load: makes the object's transport maps what `transport` reads
// (the others one-entry arrays). Returns the size of each per-CPU ring.
size_t ShapeTransportMaps(Napi::Env env, bpf_object* obj, Transport transport);

// Records in, one batch in time order out. Records from several rings
// (merged) come in as a run per ring, and are merged by their stamps;
// those stamped at or after a read's cutoff are held for the next batch,
// since another ring may still be taking an older one. A record that is
// not well-formed (records.h's RecordKind) is counted and left out.
class Collator {
 public:
  explicit Collator(bool merged) : merged_(merged) {}

  void Add(const void* data, size_t size);
  // Everything added so far, in time order, into out (replacing what it
  // held), but the records stamped at or after cutoff_ns if merged.
  void Take(Bytes& out, uint64_t cutoff_ns);
  uint64_t TakeMalformed();
  bool holding() const { return !index_.empty(); }
  uint64_t OldestHeld() const;

 private:
  struct Entry {
    uint64_t ts;
    size_t off;     // of the framed record in arrived_
    size_t framed;  // its size, frame included
  };
  bool merged_;
  Bytes arrived_;             // framed, in the order read (the records held back first)
  std::vector<Entry> index_;  // merged only
  Bytes held_;                // scratch for the records held back
  uint64_t malformed_ = 0;
};

class Reader {
 public:
  // Start() after construction; Stop() (or the destructor) frees what it took.
  Reader(Napi::Env env, bpf_object* obj, Transport transport, size_t per_cpu_ring_bytes, Napi::Function on_events);
  ~Reader();
  void Start();
  // The last read: after the programs are detached, before Stop().
  void Flush();
  void Stop();

 private:
  struct Ring {
    Reader* reader;
    size_t bytes;  // read from it in the last read
  };

  void OpenPerCpuRings();
  void Watch();
  void BeginBurst();
  void StopIdle();
  bool Consume(bool last = false);
  bool Deliver();
  size_t MostFromOneRing() const;
  uint64_t MsUntilHeldDue() const;
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnIdle(uv_idle_t* handle);
  static void OnTimer(uv_timer_t* handle);
  static void OnSample(void* ctx, int cpu, void* data, uint32_t size);
  static int OnRecord(void* ctx, void* data, size_t size);
  static void OnLost(void* ctx, int cpu, __u64 count);

  Napi::Env env_;
  bpf_object* obj_;
  Transport transport_;
  size_t per_cpu_ring_bytes_;
  perf_buffer* pb_ = nullptr;
  ring_buffer* rb_ = nullptr;
  std::vector<std::unique_ptr<Ring>> rings_;  // one per ring buffer read
  std::vector<int> ring_fds_;                 // per-CPU rings made here
  int lost_map_fd_ = -1;                      // the ring buffers' loss counter
  uint64_t lost_seen_ = 0;
  uv_loop_t* loop_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  uv_timer_t* timer_ = nullptr;  // reads a burst after the wakeup that began it
  int idle_turns_ = 0;
  size_t capacity_ = 0;       // bytes a ring may take before records are lost
  uint64_t coalesce_ms_ = 0;  // the wait before the next read of a burst
  size_t bytes_read_ = 0;     // in the last read, from every ring
  std::unique_ptr<Collator> collator_;
  Bytes batch_;  // lent to JS for the length of one callback
  uint64_t lost_ = 0;
  uint64_t malformed_ = 0;
  bool stopped_ = false;
  Napi::FunctionReference on_events_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

// collate(runs: Buffer[][], cutoffNs: bigint) -> { batch, malformed }: what
// the reader makes of records read as these runs (one per ring, merged if
// there are several): for test/reader.test.ts.
Napi::Value Collate(const Napi::CallbackInfo& info);
