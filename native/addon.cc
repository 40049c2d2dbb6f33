// SPDX-License-Identifier: Apache-2.0
//
// Module init: what the addon exports, and nothing else. The record layouts
// and limits of bpf/records.h go out as numbers the compiler took from the
// header, so that TypeScript reads records through them (src/records.ts)
// and never restates one.
#include <linux/types.h>
#include <napi.h>

#include <cstddef>
#include <initializer_list>
#include <utility>

#include "batch.h"
#include "errors.h"
#include "object.h"
#include "probes.h"
#include "reader.h"
#include "rows.h"

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

Napi::Object Records(Napi::Env env) {
  using E = struct event;
  using D = struct dns_event;
  using K4 = struct ipv4_flow_key;
  using K6 = struct ipv6_flow_key;
  Napi::Object r = Napi::Object::New(env);
  r.Set("event", Layout(env, sizeof(E),
                        {FIELD(E, ts_ns), FIELD(E, kind), FIELD(E, pid), FIELD(E, uid), FIELD(E, lport),
                         FIELD(E, dport), FIELD(E, saddr), FIELD(E, daddr), FIELD(E, ip), FIELD(E, tid), FIELD(E, task),
                         FIELD(E, cgroup_id), FIELD(E, mntns), FIELD(E, netns), FIELD(E, err), FIELD(E, lat_us)}));
  r.Set("dnsEvent", Layout(env, sizeof(D), {FIELD(D, ts_ns), FIELD(D, kind), FIELD(D, len), FIELD(D, payload)}));
  r.Set("ipv4FlowKey", Layout(env, sizeof(K4), {FIELD(K4, saddr), FIELD(K4, daddr), FIELD(K4, dport)}));
  r.Set("ipv6FlowKey", Layout(env, sizeof(K6), {FIELD(K6, saddr), FIELD(K6, daddr), FIELD(K6, dport)}));
  r.Set("frameBytes", Napi::Number::New(env, kFrameBytes));
  r.Set("recordConnect", Napi::Number::New(env, RECORD_CONNECT));
  r.Set("recordDns", Napi::Number::New(env, RECORD_DNS));
  r.Set("resultPending", Napi::Number::New(env, RESULT_PENDING));
  r.Set("taskCommLen", Napi::Number::New(env, TASK_COMM_LEN));
  r.Set("dnsMaxPayload", Napi::Number::New(env, DNS_MAX_PAYLOAD));
  r.Set("countMapEntries", Napi::Number::New(env, COUNT_MAP_ENTRIES));
  r.Set("portBitmapBytes", Napi::Number::New(env, PORT_BITMAP_BYTES));
  r.Set("maxCgroupFilters", Napi::Number::New(env, MAX_CGROUP_FILTERS));
  r.Set("maxNetnsFilters", Napi::Number::New(env, MAX_NETNS_FILTERS));
  return r;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  CaptureLibbpfLog();
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("RowWriter", RowWriter::Define(env));
  exports.Set("addressText", Napi::Function::New(env, AddressText, "addressText"));
  exports.Set("ringBufferSupported", Napi::Function::New(env, RingBufferSupported, "ringBufferSupported"));
  exports.Set("perCpuRingsSupported", Napi::Function::New(env, PerCpuRingsSupported, "perCpuRingsSupported"));
  exports.Set("openPinnedMap", Napi::Function::New(env, OpenPinnedMap, "openPinnedMap"));
  exports.Set("connectRowsSupported", Napi::Function::New(env, ConnectRowsSupported, "connectRowsSupported"));
  exports.Set("namespaceType", Napi::Function::New(env, NamespaceType, "namespaceType"));
  exports.Set("collate", Napi::Function::New(env, Collate, "collate"));
  exports.Set("records", Records(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tcpconnect, Init)
