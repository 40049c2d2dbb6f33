// SPDX-License-Identifier: Apache-2.0
//
// What the running kernel offers, asked before anything is loaded: the
// answers src/events.ts chooses a transport by, and the pinned map the
// user names (--cgroupmap, --mntnsmap), opened to be checked and used, and
// the kind of a namespace file (--netns).
#pragma once

#include <napi.h>

// ringBufferSupported() -> whether this kernel has BPF ring buffers (5.8+)
Napi::Value RingBufferSupported(const Napi::CallbackInfo& info);

// perCpuRingsSupported() -> whether it holds ring buffers in a map (5.10+)
Napi::Value PerCpuRingsSupported(const Napi::CallbackInfo& info);

// connectRowsSupported() -> whether a sock_ops program may read the
// connecting task as bpf/tcpconnect.bpf.c's tcpc_connect_cb does (6.18's
// sock_ops may; 6.1's has no current-task helpers, 6.12's no uid helper)
Napi::Value ConnectRowsSupported(const Napi::CallbackInfo& info);

// openPinnedMap(path) -> { fd, isMap, type, keySize }: the pinned object,
// opened once. The fd is what the checks were made on and what the tracer
// uses (its reuseMaps); the caller closes it.
Napi::Value OpenPinnedMap(const Napi::CallbackInfo& info);

// namespaceType(path) -> 'net', 'mnt', ... or null: the kind of namespace
// the nsfs file at path is (ioctl NS_GET_NSTYPE), or null when it is not
// one. Throws when the path cannot be opened.
Napi::Value NamespaceType(const Napi::CallbackInfo& info);
