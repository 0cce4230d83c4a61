// The access size of a faulting instruction, decoded from its bytes (Intel SDM vol. 2,
// opcode maps in appendix A). Only the forms that move data through a memory operand are
// told apart; the rest answer 0 and the report prints '?'. Runs in the fault handler:
// reads nothing beyond the bytes it is given and allocates nothing.
#include "report/access_size.h"

namespace tally {
namespace {

struct Instruction {
  const uint8_t* code;
  size_t available;
  size_t at = 0;
  bool operand16 = false;  // 0x66
  bool rep = false;        // 0xF3
  bool repne = false;      // 0xF2
  bool wide = false;       // REX.W (or VEX/EVEX W)

  bool next(uint8_t* byte) {
    if (at >= available) return false;
    *byte = code[at++];
    return true;
  }
  // The operand-size attribute of an integer instruction: REX.W wins over 0x66.
  size_t operand_size() const { return wide ? 8 : operand16 ? 2 : 4; }
  // Which of 66, F3, F2 selects an SSE form (the last one wins in hardware; programs use one).
  int mandatory_prefix() const { return rep ? 2 : repne ? 3 : operand16 ? 1 : 0; }
};

constexpr int kNoPrefix = 0, kPrefix66 = 1, kPrefixF3 = 2, kPrefixF2 = 3;

// One-byte opcode map, with a ModRM byte after the opcode.
size_t legacy_one_byte(uint8_t opcode, uint8_t modrm, const Instruction& instruction) {
  size_t full = instruction.operand_size();
  uint8_t reg = (modrm >> 3) & 7;
  // add, or, adc, sbb, and, sub, xor, cmp: the four forms with a memory operand.
  if (opcode < 0x40 && (opcode & 7) <= 3) return (opcode & 1) ? full : 1;
  switch (opcode) {
    case 0x63:  // movsxd reads a doubleword
      return 4;
    case 0x69:
    case 0x6B:
    case 0x81:
    case 0x83:
    case 0x85:
    case 0x87:
    case 0x89:
    case 0x8B:
    case 0xC1:
    case 0xC7:
    case 0xD1:
    case 0xD3:
    case 0xF7:
      return full;
    case 0x80:
    case 0x84:
    case 0x86:
    case 0x88:
    case 0x8A:
    case 0xC0:
    case 0xC6:
    case 0xD0:
    case 0xD2:
    case 0xF6:
    case 0xFE:
      return 1;
    case 0x8C:
    case 0x8E:
      return 2;
    case 0x8F:  // pop to memory
      return 8;
    case 0xFF:
      if (reg <= 1) return full;                       // inc, dec
      if (reg == 2 || reg == 4 || reg == 6) return 8;  // call, jmp, push through memory
      return 0;
    default:
      return 0;
  }
}

// The string instructions: no ModRM, the element size from the opcode's low bit.
size_t string_instruction(uint8_t opcode, const Instruction& instruction) {
  return (opcode & 1) ? instruction.operand_size() : 1;
}

// Scalar single, scalar double or packed, by mandatory prefix.
size_t scalar_or_packed(int prefix, size_t packed) {
  return prefix == kPrefixF3 ? 4 : prefix == kPrefixF2 ? 8 : packed;
}

// Forms of the 0F map shared by the SSE and the VEX/EVEX encodings whose memory operand
// does not follow the vector length: scalar-or-packed moves and arithmetic, 8-byte half
// moves, scalar compares, and moves from or to a general register. `packed` is the size
// of the packed form; 0 when the opcode is none of these.
size_t fixed_or_scalar_form(uint8_t opcode, int prefix, bool wide, size_t packed) {
  switch (opcode) {
    case 0x10:  // movups, movss, movsd, movupd
    case 0x11:
    case 0x51:  // sqrt
    case 0x58:  // add
    case 0x59:  // mul
    case 0x5C:  // sub
    case 0x5D:  // min
    case 0x5E:  // div
    case 0x5F:  // max
    case 0xC2:  // cmp
      return scalar_or_packed(prefix, packed);
    case 0x12:  // movlps, movlpd
    case 0x13:
    case 0x16:  // movhps, movhpd
    case 0x17:
    case 0xD6:  // movq to memory
      return 8;
    case 0x2E:  // ucomiss, ucomisd
    case 0x2F:  // comiss, comisd
      return prefix == kPrefix66 ? 8 : 4;
    case 0x6E:  // movd, movq from a general register's width
      return wide ? 8 : 4;
    case 0x7E:  // movq xmm, m64 (F3), else movd/movq to memory
      return prefix == kPrefixF3 ? 8 : (wide ? 8 : 4);
    default:
      return 0;
  }
}

// Two-byte map (0F xx), legacy (SSE and MMX) encodings.
size_t legacy_two_byte(uint8_t opcode, const Instruction& instruction) {
  int prefix = instruction.mandatory_prefix();
  size_t full = instruction.operand_size();
  size_t vector = prefix == kNoPrefix ? 8 : 16;       // MMX register or XMM register
  if (opcode >= 0x40 && opcode <= 0x4F) return full;  // cmov
  if (size_t fixed = fixed_or_scalar_form(opcode, prefix, instruction.wide, 16)) return fixed;
  switch (opcode) {
    case 0xB6:
    case 0xBE:
    case 0xB0:
    case 0xC0:
      return 1;
    case 0xB7:
    case 0xBF:
      return 2;
    case 0xAF:
    case 0xA3:
    case 0xAB:
    case 0xB3:
    case 0xBB:
    case 0xBA:
    case 0xBC:
    case 0xBD:
    case 0xB8:
    case 0xB1:
    case 0xC1:
    case 0xC3:
      return full;
    case 0x14:
    case 0x15:
    case 0x28:
    case 0x29:
    case 0x2B:
    case 0x54:
    case 0x55:
    case 0x56:
    case 0x57:
    case 0xC6:
    case 0xF0:  // lddqu
      return 16;
    case 0x2C:
    case 0x2D:
      return prefix == kPrefixF3 ? 4 : 8;
    case 0x6F:
    case 0x7F:
    case 0x70:
    case 0xE7:
      return vector;
    default:
      break;
  }
  // Packed integer operations (punpck..., pcmpeq..., padd..., pxor, ...).
  if ((opcode >= 0x60 && opcode <= 0x6D) || (opcode >= 0x74 && opcode <= 0x76) || opcode >= 0xD1)
    return vector;
  return 0;
}

// Three-byte maps (0F 38 xx and 0F 3A xx), legacy encodings: SSSE3 and SSE4 operations on
// XMM registers (with 66), or on MMX registers.
size_t legacy_three_byte(uint8_t map_byte, uint8_t opcode, const Instruction& instruction) {
  if (map_byte == 0x38 && (opcode == 0xF0 || opcode == 0xF1)) {
    if (instruction.repne) return opcode == 0xF0 ? 1 : instruction.operand_size();  // crc32
    return instruction.operand_size();                                              // movbe
  }
  return instruction.operand16 ? 16 : 8;
}

// VEX (AVX, AVX2, BMI) and EVEX (AVX-512) encodings: `map` 1 = 0F, 2 = 0F38, 3 = 0F3A;
// `vector` is the vector length in bytes; `prefix` the implied mandatory prefix.
size_t vector_encoded(int map, uint8_t opcode, int prefix, bool wide, size_t vector) {
  if (map == 1) {
    size_t fixed = fixed_or_scalar_form(opcode, prefix, wide, vector);
    return fixed ? fixed : vector;
  }
  if (map == 2) {
    switch (opcode) {
      case 0x18:  // vbroadcastss
      case 0x58:  // vpbroadcastd
        return 4;
      case 0x19:  // vbroadcastsd
      case 0x59:  // vpbroadcastq
        return 8;
      case 0x1A:  // vbroadcastf128
      case 0x5A:  // vbroadcasti128
        return 16;
      case 0x78:  // vpbroadcastb
        return 1;
      case 0x79:  // vpbroadcastw
        return 2;
      default:
        // BMI and BMI2 (andn, bzhi, pdep, pext, sarx, shlx, shrx, bextr): general registers.
        if (opcode >= 0xF2 && opcode <= 0xF7) return wide ? 8 : 4;
        return vector;
    }
  }
  return vector;
}

}  // namespace

size_t instruction_access_size(const uint8_t* code, size_t available) {
  if (!code) return 0;
  Instruction instruction{code, available};
  uint8_t byte = 0;
  // Legacy prefixes, then at most one REX.
  for (;;) {
    if (!instruction.next(&byte)) return 0;
    if (byte == 0x66) {
      instruction.operand16 = true;
    } else if (byte == 0xF3) {
      instruction.rep = true;
    } else if (byte == 0xF2) {
      instruction.repne = true;
    } else if (byte == 0x67 || byte == 0xF0 || byte == 0x2E || byte == 0x36 || byte == 0x3E ||
               byte == 0x26 || byte == 0x64 || byte == 0x65) {
      continue;  // address size, lock and segment prefixes do not change the access size
    } else {
      break;
    }
  }
  if ((byte & 0xF0) == 0x40) {
    instruction.wide = (byte & 8) != 0;
    if (!instruction.next(&byte)) return 0;
  }
  uint8_t modrm = 0;
  if (byte == 0xC5 || byte == 0xC4 || byte == 0x62) {
    // VEX or EVEX (in 64-bit mode these bytes are no longer les, lds or bound).
    uint8_t first = 0, second = 0, third = 0, opcode = 0;
    if (!instruction.next(&first)) return 0;
    int map = 1, prefix = 0;
    bool wide = false;
    size_t vector = 16;
    if (byte == 0xC5) {
      prefix = first & 3;
      vector = (first & 4) ? 32 : 16;
    } else if (byte == 0xC4) {
      if (!instruction.next(&second)) return 0;
      map = first & 0x1F;
      wide = (second & 0x80) != 0;
      prefix = second & 3;
      vector = (second & 4) ? 32 : 16;
    } else {
      if (!instruction.next(&second) || !instruction.next(&third)) return 0;
      map = first & 7;
      wide = (second & 0x80) != 0;
      prefix = second & 3;
      vector = size_t{16} << ((third >> 5) & 3);
      bool broadcast = (third & 0x10) != 0;
      if (!instruction.next(&opcode) || !instruction.next(&modrm)) return 0;
      if ((modrm >> 6) == 3) return 0;     // no memory operand
      if (broadcast) return wide ? 8 : 4;  // one element, repeated
      return vector_encoded(map, opcode, prefix, wide, vector);
    }
    if (!instruction.next(&opcode) || !instruction.next(&modrm)) return 0;
    if ((modrm >> 6) == 3) return 0;
    return vector_encoded(map, opcode, prefix, wide, vector);
  }
  if ((byte >= 0xA4 && byte <= 0xA7) || (byte >= 0xAA && byte <= 0xAF))
    return string_instruction(byte, instruction);
  if (byte != 0x0F) {
    if (!instruction.next(&modrm) || (modrm >> 6) == 3) return 0;
    return legacy_one_byte(byte, modrm, instruction);
  }
  uint8_t opcode = 0;
  if (!instruction.next(&opcode)) return 0;
  if (opcode == 0x38 || opcode == 0x3A) {
    uint8_t third = 0;
    if (!instruction.next(&third) || !instruction.next(&modrm) || (modrm >> 6) == 3) return 0;
    return legacy_three_byte(opcode, third, instruction);
  }
  if (!instruction.next(&modrm) || (modrm >> 6) == 3) return 0;
  if (opcode == 0xC7 && ((modrm >> 3) & 7) == 1) return instruction.wide ? 16 : 8;  // cmpxchg8b/16b
  return legacy_two_byte(opcode, instruction);
}

}  // namespace tally
