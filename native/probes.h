// SPDX-License-Identifier: Apache-2.0
//
// What the running kernel offers, asked before anything is loaded: the
// answers src/events.ts chooses a transport by, and what a pinned map the
// user names (--cgroupmap, --mntnsmap) is.
#pragma once

#include <napi.h>

// ringBufferSupported() -> whether this kernel has BPF ring buffers (5.8+)
Napi::Value RingBufferSupported(const Napi::CallbackInfo& info);

// perCpuRingsSupported() -> whether it holds ring buffers in a map (5.10+)
Napi::Value PerCpuRingsSupported(const Napi::CallbackInfo& info);

// pinnedMapInfo(path) -> { isMap, type, keySize }
Napi::Value PinnedMapInfo(const Napi::CallbackInfo& info);
