// SPDX-License-Identifier: Apache-2.0
//
// Tracer: one loaded BPF object and what hangs off it: its links, and the
// reader of its records (reader.h). Generic: it knows object, rodata
// variable, program and map names, never what a tool prints. One cleanup
// path (Teardown), reachable from close(), the finalizer and the env
// cleanup hook.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "reader.h"

struct bpf_object;
struct bpf_link;

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new Tracer(objectName, { rodata: { name: Buffer }, programs: [name],
  //                         reuseMaps?: { name: fd }, transport })
  // 1. opens the embedded object, 2. writes rodata, 3. chooses the programs
  // to load, 4. puts pinned maps in place of the object's own, 5. shapes the
  // transport's maps, 6. loads.
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  // attach([name]): all or nothing.
  Napi::Value Attach(const Napi::CallbackInfo& info);
  // start(onEvents(batch: Buffer | null, lost: number, malformed: number)):
  // reads the transport's records, one ordered batch per call.
  Napi::Value Start(const Napi::CallbackInfo& info);
  // drain(): detaches every program, then hands what is still to be read
  // to onEvents, holding nothing back. What a stop does before close().
  Napi::Value Drain(const Napi::CallbackInfo& info);
  // readMap(name) -> [[key, value], ...]
  Napi::Value ReadMap(const Napi::CallbackInfo& info);
  // close(): detaches and unloads everything; idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Open(Napi::Env env, const std::string& name, Napi::Object spec);
  void SetRodata(Napi::Env env, Napi::Object values);
  void SelectPrograms(Napi::Env env, Napi::Array names);
  void ReuseMaps(Napi::Env env, Napi::Object pinned);
  void UpdateMaps(Napi::Env env, Napi::Array updates);
  static void OnEnvCleanup(void* arg);
  void Detach();
  void Teardown();

  napi_env env_ = nullptr;
  bpf_object* obj_ = nullptr;
  std::vector<bpf_link*> links_;
  Transport transport_ = Transport::kSharedRing;
  size_t per_cpu_ring_bytes_ = 0;
  std::unique_ptr<Reader> reader_;
  bool cleanup_hook_ = false;
};
