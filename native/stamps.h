// SPDX-License-Identifier: Apache-2.0
//
// The clock records are stamped with: bpf_ktime_get_ns(), the host's
// CLOCK_MONOTONIC. This process may see another one: in a time namespace
// (a container's, say) its CLOCK_MONOTONIC is offset from the host's.
#pragma once

#include <cstdint>
#include <ctime>
#include <fstream>
#include <string>

// How far this process's CLOCK_MONOTONIC runs ahead of the host's.
inline int64_t TimeNamespaceOffsetNs() {
  std::ifstream offsets("/proc/self/timens_offsets");
  std::string clock;
  int64_t seconds, nanos;
  while (offsets >> clock >> seconds >> nanos)
    if (clock == "monotonic") return seconds * 1000000000 + nanos;
  return 0;
}

// Now, on the records' clock.
inline uint64_t HostMonotonicNs() {
  static const int64_t offset = TimeNamespaceOffsetNs();
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec - offset;
}

// What to add to a record's stamp for the wall clock (CLOCK_REALTIME), read
// once: the wall clock can be stepped, and rows must keep their order.
inline int64_t WallOffsetNs() {
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  return static_cast<int64_t>(wall.tv_sec) * 1000000000 + wall.tv_nsec - static_cast<int64_t>(HostMonotonicNs());
}
