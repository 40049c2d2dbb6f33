// SPDX-License-Identifier: Apache-2.0
//
// RowWriter: struct event records (bpf/tcpconnect.h) -> the rows a tool
// prints. What a row looks like is not decided here: src/format.ts turns
// bcc's printf formats into pieces (literal text, or one record field with
// its printf conversion), and this only follows them. It is the per-row
// work of a trace, so it runs in C: no JS call, string or object per row.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct event;

class RowWriter : public Napi::ObjectWrap<RowWriter> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new RowWriter([{ text } | { field, conv, width, precision, left }])
  explicit RowWriter(const Napi::CallbackInfo& info);

 private:
  enum class Field { kText, kPid, kUid, kTask, kIp, kSaddr, kDaddr, kLport, kDport, kSeconds, kClock, kSuffix };
  struct Piece {
    Field field;
    char conv;      // 's', 'd' or 'f'
    int width;      // 0: none
    int precision;  // -1: none
    bool left;
    std::string text;  // kText's
  };

  // format(batch, nowMs, suffixes?) -> { text: Buffer, malformed: number }:
  // a row and a newline for every connect record of a batch (u32 length,
  // record; ...), in time order. DNS answers are left out; anything else is
  // counted. suffixes, one per connect record in batch order, fill the
  // 'suffix' field (-d's QUERY); without them it is empty. text is lent:
  // it reads as empty after the next call.
  Napi::Value Format(const Napi::CallbackInfo& info);

  static void Latin1(Napi::Value v, std::string& out);
  void Reserve(size_t suffix);
  void Write(const event& e, const std::string& suffix, const char* clock);
  void Str(const Piece& p, const char* s, size_t n);
  void Pad(const Piece& p, const char* s, size_t n);
  void Int(const Piece& p, uint64_t v);

  std::vector<Piece> pieces_;
  size_t longest_ = 0;   // the longest row the pieces make, suffix and newline aside
  // Rows are written here, at at_ (grown by Reserve), and lent to JS as
  // format()'s text until the next call.
  std::shared_ptr<std::string> out_ = std::make_shared<std::string>();
  Napi::Reference<Napi::Buffer<char>> lent_;
  char* at_ = nullptr;
  bool started_ = false;  // -t counts from the first row written
  uint64_t start_us_ = 0;
};
