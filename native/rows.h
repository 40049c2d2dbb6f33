// SPDX-License-Identifier: Apache-2.0
//
// RowWriter: the connect records of a batch (records.h; in time order
// already) -> the rows a tool prints. What a row looks like is not decided here: src/format.ts turns
// bcc's printf formats into pieces (literal text, or one record field with
// its printf conversion), and this only follows them. It is the per-row
// work of a trace, so it runs in C: no JS call, string or object per row.
#pragma once

#include <linux/types.h>
#include <napi.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "records.h"

class RowWriter : public Napi::ObjectWrap<RowWriter> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new RowWriter([{ text } | { field, conv, width, precision, left }], who?)
  // who(cgroupId: bigint) -> [text, keep]: the 'who' field's text for a
  // cgroup (-C's CONTAINER, -j's cgroup keys), asked once per cgroup and
  // kept when `keep` (a name not found yet is asked again).
  explicit RowWriter(const Napi::CallbackInfo& info);

 private:
  enum class Field {
    kText,
    kPid,
    kUid,
    kTask,
    kIp,
    kSaddr,
    kDaddr,
    kLport,
    kDport,
    kSeconds,
    kClock,
    kSuffix,
    kTid,
    kIsoTime,
    kTaskJson,
    kWho,
    kMntns,
    kNetns,
    kLatency,
    kResult,
    kErrno,
  };
  struct Piece {
    Field field;
    char conv;      // 's', 'd' or 'f'
    int width;      // 0: none
    int precision;  // -1: none
    bool left;
    std::string text;  // kText's
  };

  // format(batch, nowMs, suffixes?) -> text: Buffer: a row and a
  // newline for every connect record of a batch, in batch order. DNS
  // answers are left out. suffixes, one per connect record, fill the
  // 'suffix' field (-d's QUERY); without them it is empty. The text is
  // lent: it reads as empty after the next call.
  Napi::Value Format(const Napi::CallbackInfo& info);

  static void Latin1(Napi::Value v, std::string& out);
  static bool Changing(Field f);
  using RowKey = std::array<char, offsetof(event, lat_us) - offsetof(event, kind)>;
  static void KeyOf(const event& e, RowKey& key);
  static bool Matches(const RowKey& key, const event& e);
  const std::string& Who(Napi::Env env, uint64_t cgroup_id);
  void Reserve(size_t extra);
  struct Recent;
  void Write(Napi::Env env, const event& e, const std::string& suffix, const char* clock);
  void WriteFields(const event& e, const std::string& suffix, const std::string& who, const char* clock, Recent* keep);
  void WritePiece(const Piece& p, const event& e, const std::string& suffix, const std::string& who, const char* clock);
  void Str(const Piece& p, const char* s, size_t n);
  void Pad(const Piece& p, const char* s, size_t n);
  void Int(const Piece& p, uint64_t v);

  std::vector<Piece> pieces_;
  bool has_who_ = false;
  Napi::FunctionReference who_;
  std::unordered_map<uint64_t, std::string> who_kept_;  // bounded: cleared when full
  std::string who_asked_;                               // the last answer not kept
  size_t longest_ = 0;                                  // the longest row the pieces make, suffix and newline aside
  // Rows are written here, at at_ (grown by Reserve), and lent to JS as
  // format()'s text until the next call.
  std::shared_ptr<std::string> out_ = std::make_shared<std::string>();
  Napi::Reference<Napi::Buffer<char>> lent_;
  char* at_ = nullptr;
  bool started_ = false;  // -t counts from the first row written

  // The last rows written, found by their record's key (KeyOf, Matches). A storm's rows
  // repeat (one process, one address, over and over), and a repeat costs a
  // compare and a few copies rather than a dozen fields: the row's text is
  // kept with holes where its Changing pieces go, and only those are
  // written again. Rows with a suffix given (-d's QUERY, not in the record)
  // are not looked up; a batch looks rows up when the last one found a
  // quarter of its rows there (and every 8th batch).
  struct Recent {
    bool valid = false;
    RowKey key;
    std::string text;
    std::vector<std::pair<uint32_t, uint32_t>> holes;  // (offset in text, piece index), in row order
  };
  std::array<Recent, 4> recent_;
  size_t recent_next_ = 0;
  bool padded_ = false;   // whether some piece pads to a width (then a row starts as spaces)
  bool look_up_ = true;   // whether batches look rows up
  bool looking_ = false;  // whether this one does
  uint32_t batches_ = 0;
  size_t found_ = 0, written_ = 0;  // in the current batch
  uint64_t start_us_ = 0;
  // isotime: the wall clock's lead on the clock records are stamped with,
  // taken once, so times follow the records' order; and the last second
  // formatted, which most rows of a batch share.
  int64_t wall_offset_ns_ = 0;
  int64_t iso_second_ = -1;
  char iso_prefix_[24] = {};
};

// addressText(bytes) -> the text of a 4-byte (IPv4) or 16-byte (IPv6)
// address, exactly as the rows print it.
Napi::Value AddressText(const Napi::CallbackInfo& info);
