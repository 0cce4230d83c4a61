// Double free on an exception path: the parser's step() throws on a bad token, parse()
// frees the scratch buffer in its catch handler and rethrows without clearing the member,
// and the parser's destructor, run as the exception unwinds the caller's scope, frees the
// buffer again.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of 512-byte region
// TALLY-EXPECT-ACCESS-FRAME: ~Parser
// TALLY-EXPECT-ACCESS-FRAME: parse_document
// TALLY-EXPECT-FREE-FRAME: parse
// TALLY-EXPECT-ALLOC-FRAME: Parser
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "tally_test.h"

namespace {

constexpr size_t kScratchBytes = 512;

class Parser {
 public:
  TT_NOINLINE Parser() : scratch_(static_cast<char*>(std::malloc(kScratchBytes))) {
    TT_CHECK(scratch_ != nullptr);
    std::memset(scratch_, 0, kScratchBytes);
  }
  TT_NOINLINE ~Parser() {
    if (failed_) tt_note_bad_free(scratch_, scratch_, kScratchBytes);
    std::free(scratch_);
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  TT_NOINLINE void parse(const char* token) {
    try {
      step(token);
    } catch (...) {
      std::free(scratch_);  // the pointer is not cleared
      failed_ = true;
      throw;
    }
  }

 private:
  TT_NOINLINE void step(const char* token) {
    if (std::strchr(token, '!') != nullptr) throw std::runtime_error("bad token");
    std::strncat(scratch_, token, kScratchBytes - std::strlen(scratch_) - 1);
  }

  char* scratch_;
  bool failed_ = false;
};

TT_NOINLINE int parse_document(const char* first, const char* second) {
  try {
    Parser parser;
    parser.parse(first);
    parser.parse(second);
  } catch (const std::runtime_error&) {
    return 1;
  }
  return 0;
}

}  // namespace

int main() {
  TT_CHECK(parse_document("title", "bad!") == 1);
  tt_survived();
  return 0;
}
