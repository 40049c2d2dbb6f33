// SPDX-License-Identifier: Apache-2.0
//
// Module init: the Tracer and RowWriter classes, and the record layouts of bpf/*.h, so that
// TypeScript can check its decoders against the C definitions.
#include <linux/types.h>
#include <napi.h>

#include <cstddef>

#include "errors.h"
#include "rows.h"
#include "tcpconnect.h"
#include "tracer.h"

namespace {

#define FIELD(obj, type, field) obj.Set(#field, Napi::Number::New(env, offsetof(type, field)))

Napi::Object EventLayout(Napi::Env env) {
  Napi::Object offsets = Napi::Object::New(env);
  FIELD(offsets, struct event, ts_ns);
  FIELD(offsets, struct event, kind);
  FIELD(offsets, struct event, saddr);
  FIELD(offsets, struct event, daddr);
  FIELD(offsets, struct event, pid);
  FIELD(offsets, struct event, uid);
  FIELD(offsets, struct event, lport);
  FIELD(offsets, struct event, dport);
  FIELD(offsets, struct event, ip);
  FIELD(offsets, struct event, task);
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, sizeof(struct event)));
  layout.Set("offsets", offsets);
  return layout;
}

Napi::Object DnsEventLayout(Napi::Env env) {
  Napi::Object offsets = Napi::Object::New(env);
  FIELD(offsets, struct dns_event, ts_ns);
  FIELD(offsets, struct dns_event, kind);
  FIELD(offsets, struct dns_event, len);
  FIELD(offsets, struct dns_event, payload);
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, sizeof(struct dns_event)));
  layout.Set("offsets", offsets);
  return layout;
}

Napi::Object FlowKeyLayout(Napi::Env env, size_t size, size_t saddr, size_t daddr, size_t dport) {
  Napi::Object offsets = Napi::Object::New(env);
  offsets.Set("saddr", Napi::Number::New(env, saddr));
  offsets.Set("daddr", Napi::Number::New(env, daddr));
  offsets.Set("dport", Napi::Number::New(env, dport));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, size));
  layout.Set("offsets", offsets);
  return layout;
}

#define FLOW_KEY(env, type) \
  FlowKeyLayout(env, sizeof(type), offsetof(type, saddr), offsetof(type, daddr), offsetof(type, dport))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  CaptureLibbpfLog();
  exports.Set("Tracer", Tracer::Define(env));
  exports.Set("RowWriter", RowWriter::Define(env));
  exports.Set("pinnedMapInfo", Napi::Function::New(env, PinnedMapInfo, "pinnedMapInfo"));
  exports.Set("ringBufferSupported", Napi::Function::New(env, RingBufferSupported, "ringBufferSupported"));
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
