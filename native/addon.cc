// SPDX-License-Identifier: Apache-2.0
//
// Module init: the Tracer and RowWriter classes, and the record layouts of bpf/*.h, so that
// TypeScript can check its decoders against the C definitions.
#include <linux/types.h>
#include <napi.h>

#include <cstddef>
#include <initializer_list>
#include <utility>

#include "errors.h"
#include "rows.h"
#include "tcpconnect.h"
#include "tracer.h"

namespace {

// { size, offsets: { field: offset, ... } } of a C struct, from the compiler.
Napi::Object Layout(Napi::Env env, size_t size, std::initializer_list<std::pair<const char*, size_t>> fields) {
  Napi::Object offsets = Napi::Object::New(env);
  for (const auto& [name, offset] : fields) offsets.Set(name, Napi::Number::New(env, offset));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, size));
  layout.Set("offsets", offsets);
  return layout;
}

#define FIELD(type, field) std::pair<const char*, size_t>(#field, offsetof(type, field))

Napi::Object EventLayout(Napi::Env env) {
  using E = struct event;
  return Layout(env, sizeof(E),
                {FIELD(E, ts_ns), FIELD(E, kind), FIELD(E, saddr), FIELD(E, daddr), FIELD(E, pid), FIELD(E, uid),
                 FIELD(E, lport), FIELD(E, dport), FIELD(E, ip), FIELD(E, task)});
}

Napi::Object DnsEventLayout(Napi::Env env) {
  using D = struct dns_event;
  return Layout(env, sizeof(D), {FIELD(D, ts_ns), FIELD(D, kind), FIELD(D, len), FIELD(D, payload)});
}

#define FLOW_KEY(env, type) Layout(env, sizeof(type), {FIELD(type, saddr), FIELD(type, daddr), FIELD(type, dport)})

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  CaptureLibbpfLog();
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("RowWriter", RowWriter::Define(env));
  exports.Set("pinnedMapInfo", Napi::Function::New(env, PinnedMapInfo, "pinnedMapInfo"));
  exports.Set("ringBufferSupported", Napi::Function::New(env, RingBufferSupported, "ringBufferSupported"));
  exports.Set("perCpuRingsSupported", Napi::Function::New(env, PerCpuRingsSupported, "perCpuRingsSupported"));
  Napi::Object layouts = Napi::Object::New(env);
  layouts.Set("tcpconnectEvent", EventLayout(env));
  layouts.Set("dnsEvent", DnsEventLayout(env));
  layouts.Set("ipv4FlowKey", FLOW_KEY(env, struct ipv4_flow_key));
  layouts.Set("ipv6FlowKey", FLOW_KEY(env, struct ipv6_flow_key));
  exports.Set("layouts", layouts);
  exports.Set("portBitmapBytes", Napi::Number::New(env, PORT_BITMAP_BYTES));
  return exports;
}

}  // namespace

NODE_API_MODULE(tcpconnect, Init)
