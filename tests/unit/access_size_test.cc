// The access size read off a faulting instruction: one case per instruction form, its bytes
// as the GNU assembler encodes it (objdump -d shows the same), and the size of the memory
// operand the Intel manual gives. 0: no memory operand, or a form not decoded.
#include "report/access_size.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace tally {
namespace {

struct Case {
  const char* assembly;
  std::vector<uint8_t> bytes;
  size_t size;
};

const Case kCases[] = {
    {"mov al, byte [rdi]", {0x8a, 0x07}, 1},
    {"mov ax, word [rdi]", {0x66, 0x8b, 0x07}, 2},
    {"mov eax, dword [rdi]", {0x8b, 0x07}, 4},
    {"mov rax, qword [rdi+rsi*8+16]", {0x48, 0x8b, 0x44, 0xf7, 0x10}, 8},
    {"mov byte [rdi], 1", {0xc6, 0x07, 0x01}, 1},
    {"mov dword [rdi], 1", {0xc7, 0x07, 0x01, 0x00, 0x00, 0x00}, 4},
    {"mov qword [rdi], 1", {0x48, 0xc7, 0x07, 0x01, 0x00, 0x00, 0x00}, 8},
    {"add dword [rdi], eax", {0x01, 0x07}, 4},
    {"cmp byte [rdi+5], 0", {0x80, 0x7f, 0x05, 0x00}, 1},
    {"cmp qword [rdi], 3", {0x48, 0x83, 0x3f, 0x03}, 8},
    {"movzx eax, byte [rdi]", {0x0f, 0xb6, 0x07}, 1},
    {"movzx eax, word [rdi]", {0x0f, 0xb7, 0x07}, 2},
    {"movsx rax, word [rdi]", {0x48, 0x0f, 0xbf, 0x07}, 2},
    {"movsxd rax, dword [rdi]", {0x48, 0x63, 0x07}, 4},
    {"inc dword [rdi]", {0xff, 0x07}, 4},
    {"push qword [rdi]", {0xff, 0x37}, 8},
    {"call qword [rdi]", {0xff, 0x17}, 8},
    {"rep movsb", {0xf3, 0xa4}, 1},
    {"rep movsq", {0xf3, 0x48, 0xa5}, 8},
    {"lock xadd dword [rdi], eax", {0xf0, 0x0f, 0xc1, 0x07}, 4},
    {"lock cmpxchg16b [rdi]", {0xf0, 0x48, 0x0f, 0xc7, 0x0f}, 16},
    {"cmove rax, qword [rdi]", {0x48, 0x0f, 0x44, 0x07}, 8},
    {"movdqu xmm0, [rdi]", {0xf3, 0x0f, 0x6f, 0x07}, 16},
    {"movdqa [rdi], xmm1", {0x66, 0x0f, 0x7f, 0x0f}, 16},
    {"movups xmm0, [rdi]", {0x0f, 0x10, 0x07}, 16},
    {"movss xmm0, dword [rdi]", {0xf3, 0x0f, 0x10, 0x07}, 4},
    {"movsd xmm0, qword [rdi]", {0xf2, 0x0f, 0x10, 0x07}, 8},
    {"movq xmm0, qword [rdi]", {0xf3, 0x0f, 0x7e, 0x07}, 8},
    {"movq qword [rdi], xmm0", {0x66, 0x0f, 0xd6, 0x07}, 8},
    {"movd xmm0, dword [rdi]", {0x66, 0x0f, 0x6e, 0x07}, 4},
    {"pcmpeqb xmm0, [rdi]", {0x66, 0x0f, 0x74, 0x07}, 16},
    {"pminub xmm0, [rdi]", {0x66, 0x0f, 0xda, 0x07}, 16},
    {"pshufb xmm0, [rdi]", {0x66, 0x0f, 0x38, 0x00, 0x07}, 16},
    {"vmovdqu ymm0, [rdi]", {0xc5, 0xfe, 0x6f, 0x07}, 32},
    {"vmovdqu xmm0, [rdi]", {0xc5, 0xfa, 0x6f, 0x07}, 16},
    {"vmovups [rdi], ymm2", {0xc5, 0xfc, 0x11, 0x17}, 32},
    {"vpcmpeqb ymm1, ymm0, [rdi]", {0xc5, 0xfd, 0x74, 0x0f}, 32},
    {"vmovss xmm0, dword [rdi]", {0xc5, 0xfa, 0x10, 0x07}, 4},
    {"vpbroadcastb ymm0, byte [rdi]", {0xc4, 0xe2, 0x7d, 0x78, 0x07}, 1},
    {"vmovdqu64 zmm16, [rdi]", {0x62, 0xe1, 0xfe, 0x48, 0x6f, 0x07}, 64},
    {"vmovdqu8 ymm16, [rdi]", {0x62, 0xe1, 0x7f, 0x28, 0x6f, 0x07}, 32},
    {"vpcmpb k1, zmm16, [rdi], 0", {0x62, 0xf3, 0x7d, 0x40, 0x3f, 0x0f, 0x00}, 64},
    {"vaddps zmm0, zmm1, dword [rdi]{1to16}", {0x62, 0xf1, 0x74, 0x58, 0x58, 0x07}, 4},
    {"shlx eax, dword [rdi], ecx", {0xc4, 0xe2, 0x71, 0xf7, 0x07}, 4},
    {"mov eax, dword fs:[rdi]", {0x64, 0x8b, 0x07}, 4},
    {"mov eax, eax (no memory operand)", {0x89, 0xc0}, 0},
    {"vmovdqu ymm0, ymm1 (no memory operand)", {0xc5, 0xfe, 0x6f, 0xc1}, 0},
    {"nop dword [rax] (not decoded)", {0x0f, 0x1f, 0x00}, 0},
};

TEST(AccessSize, EachInstructionFormGivesItsOperandSize) {
  for (const Case& c : kCases)
    EXPECT_EQ(instruction_access_size(c.bytes.data(), c.bytes.size()), c.size) << c.assembly;
}

// The decoder never reads past the bytes it is given: every prefix of an instruction
// answers without looking further (0, or the size when the bytes read so far tell it).
TEST(AccessSize, ShortInputIsNeverOverread) {
  for (const Case& c : kCases) {
    for (size_t length = 0; length < c.bytes.size(); ++length) {
      std::vector<uint8_t> prefix(c.bytes.begin(), c.bytes.begin() + length);
      const uint8_t* data = prefix.empty() ? nullptr : prefix.data();
      size_t size = instruction_access_size(data, length);
      EXPECT_TRUE(size == 0 || size == c.size) << c.assembly << " cut at " << length;
    }
  }
}

}  // namespace
}  // namespace tally
