// SPDX-License-Identifier: Apache-2.0
#include "reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "errors.h"
#include "stamps.h"

namespace {

// The maps of bpf/common.bpf.h that carry records up.
constexpr const char* kRingMap = "events";            // one ring (or the perf event array)
constexpr const char* kPerCpuMap = "events_per_cpu";  // an array of ring buffers, one per CPU
constexpr const char* kLostMap = "events_lost";       // records the programs could not send or keep

// Perf buffer pages per CPU (bcc: 8), where there is no ring buffer; more absorbs bursts.
constexpr size_t kPerfPages = 64;

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

// Rings are read one after another, so a record that lands in the first
// ring just after it was read can be older than one read from the second.
// Records stamped this close to the start of a read are held for the next
// one, by which time every older record is in: a program stamps a record
// just before it sends it, and even a virtual CPU the host stops for a
// while between the two rarely stops this long. 1 ms was not enough in a
// QEMU guest on a busy 2-core host.
constexpr uint64_t kSettleNs = 10000000;

// libbpf 1.x returns NULL and sets errno; keep errno meaningful.
int LastError(int fallback = EINVAL) { return errno ? errno : fallback; }

bpf_map* FindMap(Napi::Env env, bpf_object* obj, const char* name) {
  bpf_map* map = bpf_object__find_map_by_name(obj, name);
  if (!map) throw Napi::Error::New(env, std::string("no BPF map named ") + name);
  return map;
}

// The map becomes a map of `type` with u32 keys and values and max_entries
// entries (0: libbpf sizes it to the CPUs).
void Retype(Napi::Env env, bpf_object* obj, const char* name, bpf_map_type type, uint32_t max_entries, const char* as) {
  bpf_map* map = FindMap(env, obj, name);
  int err = bpf_map__set_type(map, type);
  if (!err) err = bpf_map__set_key_size(map, sizeof(__u32));
  if (!err) err = bpf_map__set_value_size(map, sizeof(__u32));
  if (!err) err = bpf_map__set_max_entries(map, max_entries);
  if (err) ThrowBpfError(env, err, std::string("make ") + name + " " + as);
}

// A map the programs will not touch with this transport (its branches are
// dead code): a one-entry array, which any kernel creates and which holds
// no ring buffer memory.
void Unused(Napi::Env env, bpf_object* obj, const char* name) {
  Retype(env, obj, name, BPF_MAP_TYPE_ARRAY, 1, "a one-entry array");
}

// Into time order, stably (records of the same nanosecond keep the order
// they were read in). Records come as a few ascending runs, one per ring,
// so the runs are found and merged pairwise: O(n log runs), not a full
// sort. Returns whether anything was out of order.
template <typename Entry>
bool MergeRuns(std::vector<Entry>& entries) {
  auto earlier = [](const Entry& a, const Entry& b) { return a.ts < b.ts; };
  std::vector<size_t> starts{0};
  for (size_t i = 1; i < entries.size(); i++)
    if (entries[i].ts < entries[i - 1].ts) starts.push_back(i);
  bool moved = starts.size() > 1;
  while (starts.size() > 1) {
    std::vector<size_t> merged;
    for (size_t k = 0; k < starts.size(); k += 2) {
      merged.push_back(starts[k]);
      if (k + 1 == starts.size()) break;
      size_t end = k + 2 < starts.size() ? starts[k + 2] : entries.size();
      std::inplace_merge(entries.begin() + starts[k], entries.begin() + starts[k + 1], entries.begin() + end, earlier);
    }
    starts.swap(merged);
  }
  return moved;
}

}  // namespace

bool ParseTransport(const std::string& name, Transport* out) {
  if (name == "per-cpu-rings")
    *out = Transport::kPerCpuRings;
  else if (name == "shared-ring")
    *out = Transport::kSharedRing;
  else if (name == "perf-buffer")
    *out = Transport::kPerfBuffer;
  else
    return false;
  return true;
}

size_t ShapeTransportMaps(Napi::Env env, bpf_object* obj, Transport transport) {
  switch (transport) {
    case Transport::kPerfBuffer:
      // Kernels before 5.8: one perf ring per CPU, sized by libbpf.
      Retype(env, obj, kRingMap, BPF_MAP_TYPE_PERF_EVENT_ARRAY, 0, "a perf event array");
      Unused(env, obj, kPerCpuMap);
      return 0;
    case Transport::kSharedRing:
      Unused(env, obj, kPerCpuMap);
      return 0;
    case Transport::kPerCpuRings:
      break;
  }
  // An array of ring buffers, one entry per possible CPU. Its inner map's
  // size is what all the CPUs' rings together may take: each gets an equal
  // share (a power of two, as ring buffers must be), at least kMinRingBytes.
  // The inner map stays as it is: a template that load creates and frees
  // (the kernel does not hold the rings put in its place to its size).
  Unused(env, obj, kRingMap);
  bpf_map* outer = FindMap(env, obj, kPerCpuMap);
  bpf_map* inner = bpf_map__inner_map(outer);
  if (!inner) throw Napi::Error::New(env, std::string(kPerCpuMap) + " is not an array of ring buffers");
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) ThrowBpfError(env, -cpus, "count the CPUs");
  size_t share = bpf_map__max_entries(inner) / cpus;
  size_t bytes = kMinRingBytes;
  while (bytes * 2 <= share) bytes *= 2;
  int err = bpf_map__set_max_entries(outer, cpus);
  if (err) ThrowBpfError(env, err, std::string("size ") + kPerCpuMap + " for " + std::to_string(cpus) + " CPUs");
  return bytes;
}

// ---- Collator ----------------------------------------------------------

void Collator::Add(const void* data, size_t size) {
  auto* bytes = static_cast<const uint8_t*>(data);
  if (!RecordKind(bytes, size)) {
    malformed_++;
    return;
  }
  if (merged_) index_.push_back({RecordTime(bytes), arrived_.size(), kFrameBytes + size});
  AppendFramed(arrived_, data, static_cast<uint32_t>(size));
}

void Collator::Take(Bytes& out, uint64_t cutoff_ns) {
  out.clear();
  if (!merged_) {  // one ring: in order as it is
    out.swap(arrived_);
    return;
  }
  bool moved = MergeRuns(index_);
  size_t keep = std::partition_point(index_.begin(), index_.end(), [&](const Entry& e) { return e.ts < cutoff_ns; }) -
                index_.begin();
  if (!moved && keep == index_.size()) {  // in order, and nothing held back
    out.swap(arrived_);
    index_.clear();
    return;
  }
  // Each side sized once, then filled record by record in time order.
  auto copy = [&](Bytes& to, size_t from, size_t to_index) {
    size_t bytes = 0;
    for (size_t i = from; i < to_index; i++) bytes += index_[i].framed;
    to.resize(bytes);  // not zero-filled (Bytes)
    uint8_t* at = to.data();
    for (size_t i = from; i < to_index; i++) {
      memcpy(at, &arrived_[index_[i].off], index_[i].framed);
      index_[i].off = at - to.data();  // where it is now (used for the ones held)
      at += index_[i].framed;
    }
  };
  copy(out, 0, keep);
  copy(held_, keep, index_.size());
  index_.erase(index_.begin(), index_.begin() + keep);
  arrived_.swap(held_);
}

uint64_t Collator::TakeMalformed() {
  uint64_t n = malformed_;
  malformed_ = 0;
  return n;
}

uint64_t Collator::OldestHeld() const {
  return index_.empty() ? UINT64_MAX : index_.front().ts;  // held records are in time order
}

Napi::Value Collate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsBigInt())
    throw Napi::TypeError::New(env, "expected (runs, cutoffNs)");
  Napi::Array runs = info[0].As<Napi::Array>();
  bool lossless;
  uint64_t cutoff = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  Collator collator(runs.Length() > 1);
  for (uint32_t r = 0; r < runs.Length(); r++) {
    Napi::Array run = runs.Get(r).As<Napi::Array>();
    for (uint32_t i = 0; i < run.Length(); i++) {
      auto rec = run.Get(i).As<Napi::Buffer<uint8_t>>();
      collator.Add(rec.Data(), rec.Length());
    }
  }
  Bytes batch, held;
  collator.Take(batch, cutoff);
  collator.Take(held, UINT64_MAX);
  Napi::Object out = Napi::Object::New(env);
  out.Set("batch", Napi::Buffer<uint8_t>::Copy(env, batch.data(), batch.size()));
  out.Set("held", Napi::Buffer<uint8_t>::Copy(env, held.data(), held.size()));
  out.Set("malformed", Napi::Number::New(env, static_cast<double>(collator.TakeMalformed())));
  return out;
}

// ---- Reader ------------------------------------------------------------

Reader::Reader(Napi::Env env, bpf_object* obj, Transport transport, size_t per_cpu_ring_bytes, Napi::Function on_events)
    : env_(env),
      obj_(obj),
      transport_(transport),
      per_cpu_ring_bytes_(per_cpu_ring_bytes),
      on_events_(Napi::Persistent(on_events)),
      async_(std::make_unique<Napi::AsyncContext>(env, "tcpconnect:events")) {}

// 1. open the rings (or perf buffer), 2. watch its fd on Node's loop.
void Reader::Start() {
  Napi::Env env = env_;
  ClearLibbpfLog();
  errno = 0;
  int fd = -1;
  // What the programs count as lost themselves (a full ring, a full map),
  // on every transport; a perf buffer counts its own overflows too.
  lost_map_fd_ = bpf_map__fd(FindMap(env, obj_, kLostMap));
  if (transport_ == Transport::kPerfBuffer) {
    bpf_map* map = FindMap(env, obj_, kRingMap);
    pb_ = perf_buffer__new(bpf_map__fd(map), kPerfPages, OnSample, OnLost, this, nullptr);
    if (!pb_) ThrowBpfError(env, LastError(), "open perf buffer " + std::string(kRingMap));
    fd = perf_buffer__epoll_fd(pb_);
    capacity_ = kPerfPages * sysconf(_SC_PAGESIZE);  // each CPU's: the first to fill loses
    collator_ = std::make_unique<Collator>(libbpf_num_possible_cpus() > 1);
  } else {
    if (transport_ == Transport::kPerCpuRings) {
      OpenPerCpuRings();
    } else {
      bpf_map* map = FindMap(env, obj_, kRingMap);
      rings_.push_back(std::make_unique<Ring>(Ring{this, 0}));
      rb_ = ring_buffer__new(bpf_map__fd(map), OnRecord, rings_.back().get(), nullptr);
      if (!rb_) ThrowBpfError(env, LastError(), "open ring buffer " + std::string(kRingMap));
      capacity_ = bpf_map__max_entries(map);
    }
    fd = ring_buffer__epoll_fd(rb_);
    collator_ = std::make_unique<Collator>(rings_.size() > 1);
  }

  napi_get_uv_event_loop(env, &loop_);
  auto* poll = new uv_poll_t;
  int err = uv_poll_init(loop_, poll, fd);
  if (err) {
    delete poll;
    throw Napi::Error::New(env, std::string("failed to watch the events buffer: ") + uv_strerror(err));
  }
  poll_ = poll;
  poll_->data = this;
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(loop_, timer_);
  Watch();
}

// Creates CPU N's ring buffer and puts it at entry N of the array; one
// ring_buffer reads all of them.
void Reader::OpenPerCpuRings() {
  Napi::Env env = env_;
  bpf_map* outer = FindMap(env, obj_, kPerCpuMap);
  int outer_fd = bpf_map__fd(outer);
  for (__u32 cpu = 0; cpu < bpf_map__max_entries(outer); cpu++) {
    std::string name = "events_cpu" + std::to_string(cpu);
    int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, name.substr(0, BPF_OBJ_NAME_LEN - 1).c_str(), 0, 0,
                            per_cpu_ring_bytes_, nullptr);
    if (fd < 0) ThrowBpfError(env, errno, "create CPU " + std::to_string(cpu) + "'s ring buffer");
    ring_fds_.push_back(fd);
    if (bpf_map_update_elem(outer_fd, &cpu, &fd, BPF_ANY))
      ThrowBpfError(env, errno, "install CPU " + std::to_string(cpu) + "'s ring buffer");
    rings_.push_back(std::make_unique<Ring>(Ring{this, 0}));
    if (!rb_) {
      rb_ = ring_buffer__new(fd, OnRecord, rings_.back().get(), nullptr);
      if (!rb_) ThrowBpfError(env, LastError(), "open ring buffer " + name);
    } else if (ring_buffer__add(rb_, fd, OnRecord, rings_.back().get())) {
      ThrowBpfError(env, LastError(), "open ring buffer " + name);
    }
  }
  capacity_ = per_cpu_ring_bytes_;  // each CPU's: the first to fill loses
}

Reader::~Reader() { Stop(); }

// Reverse order of acquisition; safe to call again. The Reader itself
// stays (a callback that closed the tracer is still running in it).
void Reader::Stop() {
  stopped_ = true;
  StopIdle();
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (poll_) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (pb_) perf_buffer__free(pb_);
  pb_ = nullptr;
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  rings_.clear();
  for (int fd : ring_fds_) close(fd);
  ring_fds_.clear();
  lost_map_fd_ = -1;
}

// Wake on the next record. A ring buffer is readable for as long as it
// holds data. A perf buffer is not: libuv adds the fd to its epoll at the
// next loop turn, and that epoll_ctl polls the perf rings, which clears
// their readiness, so samples that arrive before it would wait for the next
// wakeup. An idle handle keeps the loop from blocking and consumes once more
// after the registration.
void Reader::Watch() {
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

void Reader::OnIdle(uv_idle_t* handle) {
  auto* self = static_cast<Reader*>(handle->data);
  // The first turn runs before libuv's epoll_ctl, the second after it.
  if (++self->idle_turns_ < 2) return;
  self->StopIdle();
  if (!self->Consume()) return;
  bool read = !self->batch_.empty() || self->collator_->holding();
  if (self->Deliver() && read) self->BeginBurst();
}

void Reader::StopIdle() {
  if (!idle_) return;
  uv_idle_stop(idle_);
  uv_close(reinterpret_cast<uv_handle_t*>(idle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  idle_ = nullptr;
}

void Reader::OnSample(void* ctx, int, void* data, uint32_t size) {
  auto* self = static_cast<Reader*>(ctx);
  self->bytes_read_ += size;
  self->collator_->Add(data, size);
}

int Reader::OnRecord(void* ctx, void* data, size_t size) {
  auto* ring = static_cast<Ring*>(ctx);
  ring->bytes += size;
  OnSample(ring->reader, -1, data, static_cast<uint32_t>(size));
  return 0;
}

void Reader::OnLost(void* ctx, int, __u64 count) { static_cast<Reader*>(ctx)->lost_ += count; }

// Reads everything the buffers hold into batch_, in time order (all of it
// if last). False once stopped.
bool Reader::Consume(bool last) {
  for (auto& r : rings_) r->bytes = 0;
  bytes_read_ = 0;
  if (stopped_) return false;
  // Before the read: a record stamped after this may still be on its way
  // into a ring read earlier. The last read, once the programs are
  // detached, holds nothing back: every record is in.
  uint64_t cutoff = last ? UINT64_MAX : HostMonotonicNs() - kSettleNs;
  if (rb_)
    ring_buffer__consume(rb_);
  else
    perf_buffer__consume(pb_);
  collator_->Take(batch_, cutoff);
  malformed_ += collator_->TakeMalformed();
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

void Reader::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<Reader*>(handle->data);
  // Not perf_buffer__poll(pb, 0): perf clears a ring's readiness when it is
  // polled, and the outer epoll (libuv's) has just done that, so the inner
  // epoll_wait would see nothing. Consuming every ring is O(CPUs) and exact.
  if (status < 0 || !self->Consume()) return;
  if (self->Deliver()) self->BeginBurst();  // unless closed from the callback
}

// The programs are detached: everything still in the rings, and what was
// held back, goes out now, with the losses counted so far.
void Reader::Flush() {
  if (Consume(true)) Deliver();
}

// The first record of a burst is handed over at once; the rest of the
// burst is read in batches, each after a wait (see kMaxCoalesceMs). A perf
// buffer wakes the reader for every sample, a ring buffer for the first
// record after each read: either way one read per batch, not one per
// record. A burst starts with the shortest wait, in case it is fast.
void Reader::BeginBurst() {
  uv_poll_stop(poll_);
  coalesce_ms_ = kMinCoalesceMs;
  uv_timer_start(timer_, OnTimer, coalesce_ms_, 0);
}

void Reader::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<Reader*>(handle->data);
  if (!self->Consume()) return;
  size_t bytes = self->MostFromOneRing();
  bool had = !self->batch_.empty() || self->lost_ || self->malformed_;
  if (!self->Deliver()) return;  // closed from the callback
  if (!had && !self->collator_->holding()) {
    self->Watch();  // quiet again: back to waking on the next sample
    return;
  }
  // Wait as long as it takes this rate to fill a quarter of the buffer;
  // if this read found nothing new, only until the records held back are
  // due (while records flow, the next read takes them anyway).
  uint64_t fill = bytes ? self->coalesce_ms_ * (self->capacity_ / 4) / bytes : kMaxCoalesceMs;
  uint64_t wait = std::clamp(fill, kMinCoalesceMs, kMaxCoalesceMs);
  if (bytes == 0 && self->collator_->holding()) wait = std::clamp<uint64_t>(self->MsUntilHeldDue(), 1, wait);
  self->coalesce_ms_ = wait;
  uv_timer_start(self->timer_, OnTimer, wait, 0);
}

// Milliseconds until the oldest record held back may go out (at least 1).
uint64_t Reader::MsUntilHeldDue() const {
  uint64_t oldest = collator_->OldestHeld();
  uint64_t now = HostMonotonicNs();
  if (oldest == UINT64_MAX || oldest + kSettleNs <= now) return 1;
  return (oldest + kSettleNs - now) / 1000000 + 1;
}

// The most bytes any one ring buffer gave in the last read (a perf
// buffer's: the whole read, as if from one CPU).
size_t Reader::MostFromOneRing() const {
  if (rings_.empty()) return bytes_read_;
  size_t most = 0;
  for (const auto& r : rings_) most = std::max(most, r->bytes);
  return most;
}

// One call into JS per read, with everything that read brought:
// onEvents(batch: Buffer | null, lost, malformed). The batch is lent, not
// copied: a Buffer over batch_ itself, detached when the callback returns
// (it reads as empty after that), so the next read can reuse the memory.
// Returns false if the callback closed the tracer.
bool Reader::Deliver() {
  if (batch_.empty() && lost_ == 0 && malformed_ == 0) return true;
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  Napi::Buffer<uint8_t> view;
  if (!batch_.empty()) view = Napi::Buffer<uint8_t>::New(env, batch_.data(), batch_.size(), [](Napi::Env, uint8_t*) {});
  Napi::Value batch = view.IsEmpty() ? env.Null() : view.As<Napi::Value>();
  Napi::Value lost = Napi::Number::New(env, static_cast<double>(lost_));
  Napi::Value malformed = Napi::Number::New(env, static_cast<double>(malformed_));
  lost_ = malformed_ = 0;
  try {
    on_events_.MakeCallback(env.Global(), {batch, lost, malformed}, *async_);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
  if (!view.IsEmpty()) view.ArrayBuffer().Detach();
  batch_.clear();
  if (stopped_) Bytes().swap(batch_);  // closed from the callback
  return !stopped_;
}
