// Unwind rules from `.eh_frame`: the lookup of a return address's FDE through the module's
// `.eh_frame_hdr` search table, a small interpreter of the CIE's and FDE's call-frame
// instructions that tracks only the CFA, rbp and the return address, and the cache.
//
// The cache (its layout is in the header, so that a hit is inlined into the walker) keeps
// one 64-bit word per entry, so a reader never sees half an entry. Writers race benignly:
// the last one wins and every one writes a correct rule.
#include "report/unwind_table.h"

#include <dlfcn.h>
#include <string.h>

#include <atomic>

#include "core/config.h"
#include "os/memory.h"

namespace tally {

std::atomic<uint64_t>* unwind_cache::g_table = nullptr;

namespace {

// DWARF register numbers of x86-64.
constexpr uint64_t kRegisterFramePointer = 6;  // rbp
constexpr uint64_t kRegisterStackPointer = 7;  // rsp
constexpr uint64_t kRegisterReturnAddress = 16;

// --- Reading the tables -------------------------------------------------------------------

struct Reader {
  const uint8_t* at;
  const uint8_t* end;
  bool ok = true;

  bool has(size_t bytes) {
    if (static_cast<size_t>(end - at) < bytes) ok = false;
    return ok;
  }
  template <typename T>
  T fixed() {
    T value{};
    if (!has(sizeof(T))) return value;
    memcpy(&value, at, sizeof(T));
    at += sizeof(T);
    return value;
  }
  uint64_t unsigned_leb() {
    uint64_t value = 0;
    for (unsigned shift = 0; has(1); shift += 7) {
      uint8_t byte = *at++;
      if (shift < 64) value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return 0;
  }
  int64_t signed_leb() {
    uint64_t value = 0;
    unsigned shift = 0;
    uint8_t byte = 0;
    do {
      if (!has(1)) return 0;
      byte = *at++;
      if (shift < 64) value |= uint64_t{byte & 0x7fu} << shift;
      shift += 7;
    } while (byte & 0x80);
    if (shift < 64 && (byte & 0x40)) value |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(value);
  }
  // A pointer in one of the DW_EH_PE encodings; `data_base` serves datarel.
  uintptr_t encoded(uint8_t encoding, uintptr_t data_base = 0) {
    if (encoding == 0xff) return 0;  // DW_EH_PE_omit
    uintptr_t field = reinterpret_cast<uintptr_t>(at);
    uintptr_t value = 0;
    switch (encoding & 0x0f) {
      case 0x00:
        value = fixed<uint64_t>();
        break;  // absptr
      case 0x01:
        value = unsigned_leb();
        break;  // uleb128
      case 0x02:
        value = fixed<uint16_t>();
        break;  // udata2
      case 0x03:
        value = fixed<uint32_t>();
        break;  // udata4
      case 0x04:
        value = fixed<uint64_t>();
        break;  // udata8
      case 0x09:
        value = static_cast<uintptr_t>(signed_leb());
        break;  // sleb128
      case 0x0a:
        value = static_cast<uintptr_t>(int64_t{fixed<int16_t>()});
        break;  // sdata2
      case 0x0b:
        value = static_cast<uintptr_t>(int64_t{fixed<int32_t>()});
        break;  // sdata4
      case 0x0c:
        value = fixed<uint64_t>();
        break;  // sdata8
      default:
        ok = false;
        return 0;
    }
    switch (encoding & 0x70) {
      case 0x00:
        break;  // absolute
      case 0x10:
        value += field;
        break;  // pcrel
      case 0x30:
        value += data_base;
        break;  // datarel
      default:
        ok = false;
        return 0;  // textrel, funcrel, aligned: not in eh_frame
    }
    if (encoding & 0x80) {  // indirect
      if (value == 0) {
        ok = false;
        return 0;
      }
      memcpy(&value, reinterpret_cast<const void*>(value), sizeof value);
    }
    return value;
  }
};

// The CIE or FDE at `entry`: its contents and where they end. False for the terminator.
bool open_entry(const uint8_t* entry, Reader* reader) {
  uint32_t length32;
  memcpy(&length32, entry, 4);
  const uint8_t* body = entry + 4;
  uint64_t length = length32;
  if (length32 == 0xffffffffu) {
    memcpy(&length, body, 8);
    body += 8;
  }
  if (length == 0 || length > (uint64_t{1} << 32)) return false;
  reader->at = body;
  reader->end = body + length;
  reader->ok = true;
  return true;
}

// Finds the FDE that covers `pc` through the `.eh_frame_hdr` binary-search table.
const uint8_t* find_fde(const uint8_t* header, uintptr_t pc) {
  uintptr_t header_address = reinterpret_cast<uintptr_t>(header);
  if (header[0] != 1) return nullptr;  // version
  uint8_t frame_pointer_encoding = header[1];
  uint8_t count_encoding = header[2];
  uint8_t table_encoding = header[3];
  // GNU ld writes datarel|sdata4 pairs; any other table would need a linear scan.
  if (table_encoding != 0x3b || count_encoding == 0xff) return nullptr;
  Reader reader{header + 4, header + 4 + 16};
  reader.encoded(frame_pointer_encoding, header_address);
  uint64_t count = reader.encoded(count_encoding, header_address);
  if (!reader.ok || count == 0) return nullptr;
  const uint8_t* table = reader.at;
  auto initial_location = [&](uint64_t i) {
    int32_t relative;
    memcpy(&relative, table + i * 8, 4);
    return header_address + static_cast<intptr_t>(relative);
  };
  // The last entry whose initial location is <= pc.
  uint64_t low = 0, high = count;
  while (high - low > 1) {
    uint64_t middle = low + (high - low) / 2;
    if (initial_location(middle) <= pc)
      low = middle;
    else
      high = middle;
  }
  if (initial_location(low) > pc) return nullptr;
  int32_t fde_relative;
  memcpy(&fde_relative, table + low * 8 + 4, 4);
  return reinterpret_cast<const uint8_t*>(header_address + static_cast<intptr_t>(fde_relative));
}

// --- Interpreting call-frame instructions --------------------------------------------------

enum class RuleHow : uint8_t { kSame, kUndefined, kAtCfa, kAtFramePointer, kUnsupported };
enum class CfaHow : uint8_t { kRegister, kDerefFramePointer, kUnsupported };

struct RegisterRule {
  RuleHow how = RuleHow::kSame;
  int64_t offset = 0;
};

struct Row {
  CfaHow cfa_how = CfaHow::kRegister;
  uint64_t cfa_register = kRegisterStackPointer;
  int64_t cfa_offset = 8;
  RegisterRule frame_pointer;
  RegisterRule return_address;
};

struct CommonInformation {
  uint64_t code_alignment = 1;
  int64_t data_alignment = -8;
  uint64_t return_register = kRegisterReturnAddress;
  uint8_t pointer_encoding = 0;  // of the FDE's addresses ('R')
  bool has_augmentation_data = false;
  bool signal_frame = false;
  Reader instructions{nullptr, nullptr};
};

bool parse_cie(const uint8_t* entry, CommonInformation* cie) {
  Reader reader{nullptr, nullptr};
  if (!open_entry(entry, &reader)) return false;
  if (reader.fixed<uint32_t>() != 0) return false;  // a CIE's id is 0 in .eh_frame
  uint8_t version = reader.fixed<uint8_t>();
  if (version != 1 && version != 3) return false;
  const char* augmentation = reinterpret_cast<const char*>(reader.at);
  size_t augmentation_length = strnlen(augmentation, static_cast<size_t>(reader.end - reader.at));
  reader.at += augmentation_length + 1;
  if (augmentation[0] != '\0' && augmentation[0] != 'z') return false;  // "eh" and older
  cie->code_alignment = reader.unsigned_leb();
  cie->data_alignment = reader.signed_leb();
  cie->return_register = version == 1 ? reader.fixed<uint8_t>() : reader.unsigned_leb();
  if (augmentation[0] == 'z') {
    cie->has_augmentation_data = true;
    uint64_t data_length = reader.unsigned_leb();
    const uint8_t* data_end = reader.at + data_length;
    // An unknown letter ends the parse of the data (its length lets us skip the rest).
    bool known = true;
    for (const char* letter = augmentation + 1; *letter && known && reader.ok; ++letter) {
      switch (*letter) {
        case 'R':
          cie->pointer_encoding = reader.fixed<uint8_t>();
          break;
        case 'L':
          reader.fixed<uint8_t>();
          break;
        case 'P':
          reader.encoded(reader.fixed<uint8_t>() & 0x7f);
          break;  // not followed
        case 'S':
          cie->signal_frame = true;
          break;
        case 'B':
        case 'G':
          break;
        default:
          known = false;
          break;
      }
    }
    reader.at = data_end;
  }
  if (!reader.ok || reader.at > reader.end) return false;
  cie->instructions = reader;
  return true;
}

RegisterRule* tracked(Row& row, uint64_t reg) {
  if (reg == kRegisterFramePointer) return &row.frame_pointer;
  if (reg == kRegisterReturnAddress) return &row.return_address;
  return nullptr;
}

// Runs call-frame instructions until the row that covers `target` (exclusive of rows
// that start after it). `initial` is the row after the CIE's instructions, for restore.
bool run_instructions(Reader program, const CommonInformation& cie, uintptr_t location,
                      uintptr_t target, const Row& initial, Row* row) {
  constexpr int kMaxRemembered = 8;
  Row remembered[kMaxRemembered];
  int depth = 0;
  auto set = [&](uint64_t reg, RuleHow how, int64_t offset) {
    if (RegisterRule* rule = tracked(*row, reg)) *rule = RegisterRule{how, offset};
  };
  auto restore = [&](uint64_t reg) {
    if (reg == kRegisterFramePointer) row->frame_pointer = initial.frame_pointer;
    if (reg == kRegisterReturnAddress) row->return_address = initial.return_address;
  };
  auto advance = [&](uint64_t delta) {
    location += delta * cie.code_alignment;
    return location <= target;
  };
  while (program.ok && program.at < program.end) {
    uint8_t op = program.fixed<uint8_t>();
    uint8_t operand = op & 0x3f;
    switch (op & 0xc0) {
      case 0x40:  // advance_loc
        if (!advance(operand)) return true;
        continue;
      case 0x80:  // offset
        set(operand, RuleHow::kAtCfa,
            static_cast<int64_t>(program.unsigned_leb()) * cie.data_alignment);
        continue;
      case 0xc0:  // restore
        restore(operand);
        continue;
    }
    switch (op) {
      case 0x00:
        break;    // nop
      case 0x01:  // set_loc
        location = program.encoded(cie.pointer_encoding);
        if (location > target) return true;
        break;
      case 0x02:
        if (!advance(program.fixed<uint8_t>())) return true;
        break;
      case 0x03:
        if (!advance(program.fixed<uint16_t>())) return true;
        break;
      case 0x04:
        if (!advance(program.fixed<uint32_t>())) return true;
        break;
      case 0x05: {  // offset_extended
        uint64_t reg = program.unsigned_leb();
        set(reg, RuleHow::kAtCfa,
            static_cast<int64_t>(program.unsigned_leb()) * cie.data_alignment);
        break;
      }
      case 0x06:
        restore(program.unsigned_leb());
        break;  // restore_extended
      case 0x07:
        set(program.unsigned_leb(), RuleHow::kUndefined, 0);
        break;
      case 0x08:
        set(program.unsigned_leb(), RuleHow::kSame, 0);
        break;
      case 0x09: {  // register: saved in another register, which the walker does not track
        uint64_t reg = program.unsigned_leb();
        program.unsigned_leb();
        set(reg, RuleHow::kUnsupported, 0);
        break;
      }
      case 0x0a:  // remember_state
        if (depth == kMaxRemembered) return false;
        remembered[depth++] = *row;
        break;
      case 0x0b:  // restore_state
        if (depth == 0) return false;
        *row = remembered[--depth];
        break;
      case 0x0c:  // def_cfa
        row->cfa_how = CfaHow::kRegister;
        row->cfa_register = program.unsigned_leb();
        row->cfa_offset = static_cast<int64_t>(program.unsigned_leb());
        break;
      case 0x0d:  // def_cfa_register
        row->cfa_how = CfaHow::kRegister;
        row->cfa_register = program.unsigned_leb();
        break;
      case 0x0e:
        row->cfa_offset = static_cast<int64_t>(program.unsigned_leb());
        break;
      case 0x0f: {  // def_cfa_expression: only "DW_OP_breg6 N; DW_OP_deref" (realigned frames)
        uint64_t length = program.unsigned_leb();
        if (!program.has(length)) return false;
        Reader expression{program.at, program.at + length};
        program.at += length;
        row->cfa_how = CfaHow::kUnsupported;
        if (expression.fixed<uint8_t>() == 0x70 + kRegisterFramePointer) {
          int64_t offset = expression.signed_leb();
          if (expression.fixed<uint8_t>() == 0x06 && expression.ok &&
              expression.at == expression.end) {
            row->cfa_how = CfaHow::kDerefFramePointer;
            row->cfa_offset = offset;
          }
        }
        break;
      }
      case 0x10: {  // expression: only rbp "saved at DW_OP_breg6 N" (realigned frames)
        uint64_t reg = program.unsigned_leb();
        uint64_t length = program.unsigned_leb();
        if (!program.has(length)) return false;
        Reader expression{program.at, program.at + length};
        program.at += length;
        RuleHow how = RuleHow::kUnsupported;
        int64_t offset = 0;
        if (reg == kRegisterFramePointer &&
            expression.fixed<uint8_t>() == 0x70 + kRegisterFramePointer) {
          offset = expression.signed_leb();
          if (expression.ok && expression.at == expression.end) how = RuleHow::kAtFramePointer;
        }
        set(reg, how, offset);
        break;
      }
      case 0x11: {  // offset_extended_sf
        uint64_t reg = program.unsigned_leb();
        set(reg, RuleHow::kAtCfa, program.signed_leb() * cie.data_alignment);
        break;
      }
      case 0x12:  // def_cfa_sf
        row->cfa_how = CfaHow::kRegister;
        row->cfa_register = program.unsigned_leb();
        row->cfa_offset = program.signed_leb() * cie.data_alignment;
        break;
      case 0x13:
        row->cfa_offset = program.signed_leb() * cie.data_alignment;
        break;
      case 0x14:    // val_offset
      case 0x15: {  // val_offset_sf: the value is an address, not a saved register
        uint64_t reg = program.unsigned_leb();
        if (op == 0x14)
          program.unsigned_leb();
        else
          program.signed_leb();
        set(reg, RuleHow::kUnsupported, 0);
        break;
      }
      case 0x16: {  // val_expression
        uint64_t reg = program.unsigned_leb();
        uint64_t length = program.unsigned_leb();
        if (!program.has(length)) return false;
        program.at += length;
        set(reg, RuleHow::kUnsupported, 0);
        break;
      }
      case 0x2e:
        program.unsigned_leb();
        break;      // GNU_args_size
      case 0x2f: {  // GNU_negative_offset_extended
        uint64_t reg = program.unsigned_leb();
        set(reg, RuleHow::kAtCfa,
            -static_cast<int64_t>(program.unsigned_leb()) * cie.data_alignment);
        break;
      }
      default:
        return false;
    }
  }
  return program.ok;
}

UnwindRule rule_from_row(const Row& row) {
  UnwindRule rule;
  if (row.return_address.how == RuleHow::kUndefined) {
    rule.set_outermost();
    return rule;
  }
  if (row.return_address.how != RuleHow::kAtCfa || row.return_address.offset != -8) return rule;
  UnwindRule::Base base;
  switch (row.cfa_how) {
    case CfaHow::kRegister:
      if (row.cfa_register == kRegisterStackPointer)
        base = UnwindRule::kStackPointer;
      else if (row.cfa_register == kRegisterFramePointer)
        base = UnwindRule::kFramePointer;
      else
        return rule;
      break;
    case CfaHow::kDerefFramePointer:
      base = UnwindRule::kDerefFramePointer;
      break;
    default:
      return rule;
  }
  UnwindRule::Saved saved;
  switch (row.frame_pointer.how) {
    case RuleHow::kSame:
    case RuleHow::kUndefined:
      saved = UnwindRule::kUnchanged;
      break;
    case RuleHow::kAtCfa:
      saved = UnwindRule::kAtCfa;
      break;
    case RuleHow::kAtFramePointer:
      saved = UnwindRule::kAtFramePointer;
      break;
    default:
      return rule;
  }
  // Offsets too wide for the packed rule leave it unknown: the walker then falls back to
  // the frame-pointer chain for that frame.
  rule.set_frame(base, row.cfa_offset, saved,
                 saved == UnwindRule::kUnchanged ? 0 : row.frame_pointer.offset);
  return rule;
}

// --- The cache ------------------------------------------------------------------------------

std::atomic<uint64_t> g_parsed{0};

std::atomic<uint64_t>* map_cache() {
  using namespace unwind_cache;
  static std::atomic<std::atomic<uint64_t>*> table{nullptr};
  std::atomic<uint64_t>* current = table.load(std::memory_order_acquire);
  if (current) return current;
  size_t bytes = kEntries * sizeof(uint64_t);
  auto* fresh = static_cast<std::atomic<uint64_t>*>(os_map(bytes));
  if (!fresh) return nullptr;
  if (!table.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) {
    os_unmap(fresh, bytes);
    return current;
  }
  return fresh;
}

}  // namespace

UnwindRule unwind_rule_parse(uintptr_t return_address) {
  UnwindRule unknown{};
  if (return_address < 2) return unknown;
  uintptr_t pc = return_address - 1;  // inside the call, even when it ends its function
  struct dl_find_object object;
  if (_dl_find_object(reinterpret_cast<void*>(pc), &object) != 0 || !object.dlfo_eh_frame)
    return unknown;
  const uint8_t* fde = find_fde(static_cast<const uint8_t*>(object.dlfo_eh_frame), pc);
  if (!fde) return unknown;
  Reader reader{nullptr, nullptr};
  if (!open_entry(fde, &reader)) return unknown;
  const uint8_t* cie_pointer_field = reader.at;
  uint32_t cie_offset = reader.fixed<uint32_t>();
  if (cie_offset == 0) return unknown;  // a CIE, not an FDE
  CommonInformation cie;
  if (!parse_cie(cie_pointer_field - cie_offset, &cie) || cie.signal_frame ||
      cie.return_register != kRegisterReturnAddress)
    return unknown;
  uintptr_t begin = reader.encoded(cie.pointer_encoding);
  uintptr_t range = reader.encoded(cie.pointer_encoding & 0x0f);
  if (!reader.ok || pc < begin || pc - begin >= range) return unknown;
  if (cie.has_augmentation_data) reader.at += reader.unsigned_leb();
  if (!reader.ok || reader.at > reader.end) return unknown;
  Row initial;
  initial.return_address = RegisterRule{RuleHow::kUnsupported, 0};
  if (!run_instructions(cie.instructions, cie, 0, UINTPTR_MAX, initial, &initial)) return unknown;
  Row row = initial;
  if (!run_instructions(reader, cie, begin, pc, initial, &row)) return unknown;
  return rule_from_row(row);
}

UnwindRule unwind_rule_miss(uintptr_t return_address) {
  using namespace unwind_cache;
  UnwindRule rule = unwind_rule_parse(return_address);
  g_parsed.fetch_add(1, std::memory_order_relaxed);
  if (!cacheable(return_address)) return rule;
  std::atomic<uint64_t>* table = map_cache();
  if (!table) return rule;
  // The new rule takes its home; a rule at home there moves to the neighbour, displaced
  // (replacing whatever the neighbour held). Each store is one whole entry, so a reader
  // racing them finds a rule or misses, never a mix.
  size_t home = index_of(return_address);
  uint64_t previous = table[home].load(std::memory_order_relaxed);
  if (previous != 0 && !(previous & kDisplaced))
    table[home ^ 1].store(previous | kDisplaced, std::memory_order_relaxed);
  table[home].store(rule.bits() | (key_of(return_address, false) << UnwindRule::kBits),
                    std::memory_order_relaxed);
  // Published after the entry is written; readers that still see null just miss.
  __atomic_store_n(&g_table, table, __ATOMIC_RELEASE);
  return rule;
}

UnwindTableStats unwind_table_stats() {
  return UnwindTableStats{g_parsed.load(std::memory_order_relaxed)};
}

}  // namespace tally
