// SPDX-License-Identifier: Apache-2.0
//
// A batch: the records one read brought up, in time order, each framed as
// a little-endian u32 length and that many bytes (struct event or struct
// dns_event of bpf/records.h). The reader (reader.cc) is the only writer
// of batches and checks every record before it frames it; everything else
// walks a batch with RecordCursor and can take each record as well-formed.
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "records.h"

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

constexpr size_t kFrameBytes = sizeof(uint32_t);

// The kind of the record at data (size bytes long), or 0 if it is not one
// the readers know: too short for its kind, or of no known kind.
inline uint32_t RecordKind(const uint8_t* data, size_t size) {
  uint32_t kind, len;
  if (size < offsetof(dns_event, payload)) return 0;
  memcpy(&kind, data + offsetof(event, kind), sizeof kind);
  switch (kind) {
    case RECORD_CONNECT:
      return size >= sizeof(event) ? kind : 0;
    case RECORD_DNS:
      memcpy(&len, data + offsetof(dns_event, len), sizeof len);
      return len <= DNS_MAX_PAYLOAD && offsetof(dns_event, payload) + len <= size ? kind : 0;
    default:
      return 0;
  }
}

inline uint64_t RecordTime(const uint8_t* data) {
  uint64_t ts;
  memcpy(&ts, data, sizeof ts);
  return ts;
}

// Appends one record to a batch, framed.
inline void AppendFramed(Bytes& batch, const void* data, uint32_t size) {
  size_t at = batch.size();
  batch.resize(at + kFrameBytes + size);  // capacity kept between reads: no allocation
  memcpy(&batch[at], &size, kFrameBytes);
  memcpy(&batch[at + kFrameBytes], data, size);
}

// The records of a batch, in order: for (RecordCursor c(data, size); c.Next();) c.data()...
class RecordCursor {
 public:
  RecordCursor(const uint8_t* batch, size_t size) : at_(batch), end_(batch + size) {}

  bool Next() {
    if (next_) at_ = next_;
    if (static_cast<size_t>(end_ - at_) < kFrameBytes) return false;
    memcpy(&size_, at_, kFrameBytes);
    data_ = at_ + kFrameBytes;
    if (size_ > static_cast<size_t>(end_ - data_)) return false;
    next_ = data_ + size_;
    return true;
  }
  const uint8_t* data() const { return data_; }
  uint32_t size() const { return size_; }
  uint32_t kind() const {
    uint32_t kind;
    memcpy(&kind, data_ + offsetof(event, kind), sizeof kind);
    return kind;
  }

 private:
  const uint8_t* at_;
  const uint8_t* end_;
  const uint8_t* data_ = nullptr;
  const uint8_t* next_ = nullptr;
  uint32_t size_ = 0;
};
