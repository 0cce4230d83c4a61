// The symbolizer: functions of this test binary resolve to their names (and file and line
// when the binary has debug information), inlined frames are expanded, unknown code falls
// back to module+offset, the child process is restarted when it dies or when the process
// forks, runs without libtally in LD_PRELOAD, and frames print in ASan's layout.
//
// Debug information and inlining do not depend on how this binary was built: a small
// library is compiled at test time with -g -O2 (skipped when no C compiler is installed).
#include "report/symbolizer.h"

#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "report/stack_capture.h"

namespace tally {
namespace {

#define NO_TAIL_CALL() __asm__ volatile("" ::: "memory")

uintptr_t g_return_address = 0;
int g_line = 0;

// Records where it was called from: the return address and the caller's source line.
__attribute__((noinline)) void record_call_site(int line) {
  g_return_address = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  g_line = line;
  NO_TAIL_CALL();
}

__attribute__((noinline)) void symbolizer_target_a() {
  record_call_site(__LINE__);
  NO_TAIL_CALL();
}

__attribute__((noinline)) void symbolizer_target_b() {
  record_call_site(__LINE__);
  NO_TAIL_CALL();
}

__attribute__((noinline)) void symbolizer_target_c() {
  record_call_site(__LINE__);
  NO_TAIL_CALL();
}

__attribute__((always_inline)) inline void inlined_recorder() {
  record_call_site(__LINE__);
}

__attribute__((noinline)) void calls_inlined_recorder() {
  inlined_recorder();
  NO_TAIL_CALL();
}

// The call site inside `function` (a return address minus one) and its line.
uintptr_t call_site_in(void (*function)(), int* line = nullptr) {
  function();
  if (line) *line = g_line;
  return g_return_address - 1;
}

std::string executable_path() {
  char buffer[4096];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return std::string(buffer, length > 0 ? static_cast<size_t>(length) : 0);
}

// The contents of the ELF file's section of that name (e.g. ".debug_line"); false when
// it has none.
bool read_section(const std::string& path, const char* name, std::string* contents) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (data.size() < sizeof(Elf64_Ehdr)) return false;
  const Elf64_Ehdr* header = reinterpret_cast<const Elf64_Ehdr*>(data.data());
  if (header->e_shoff == 0 || header->e_shstrndx >= header->e_shnum ||
      header->e_shoff + header->e_shnum * sizeof(Elf64_Shdr) > data.size())
    return false;
  const Elf64_Shdr* sections = reinterpret_cast<const Elf64_Shdr*>(data.data() + header->e_shoff);
  const char* names = data.data() + sections[header->e_shstrndx].sh_offset;
  for (int i = 0; i < header->e_shnum; ++i) {
    if (strcmp(names + sections[i].sh_name, name) != 0) continue;
    if (sections[i].sh_type != SHT_NOBITS &&
        sections[i].sh_offset + sections[i].sh_size <= data.size())
      contents->assign(data.data() + sections[i].sh_offset, sections[i].sh_size);
    return true;
  }
  return false;
}

bool has_section(const std::string& path, const char* name) {
  std::string ignored;
  return read_section(path, name, &ignored);
}

// The build id as the file on disk holds it, in hex: the description of the one note of
// .note.gnu.build-id, after its 12-byte header and the 4 bytes of "GNU\0".
std::string build_id_from_file(const std::string& path) {
  std::string note;
  if (!read_section(path, ".note.gnu.build-id", &note) || note.size() <= 16) return "";
  std::string hex;
  for (size_t i = 16; i < note.size(); ++i) {
    char byte[3];
    snprintf(byte, sizeof byte, "%02x", static_cast<unsigned char>(note[i]));
    hex += byte;
  }
  return hex;
}

bool self_has_debug_info() {
  static const bool has = has_section(executable_path(), ".debug_line");
  return has;
}

uintptr_t load_bias_of(uintptr_t pc) {
  Dl_info info;
  struct link_map* map = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(pc), &info, reinterpret_cast<void**>(&map),
               RTLD_DL_LINKMAP) ||
      !map)
    return 0;
  return map->l_addr;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string format(uintptr_t pc, const SymbolizedFrame& frame, int number = 0) {
  char buffer[2048];
  Formatter out(buffer, sizeof buffer);
  format_symbolized_frame(out, number, pc, frame);
  return std::string(out.data(), out.length());
}

std::string find_program(const char* name) {
  std::string command = std::string("command -v ") + name + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "";
  char buffer[1024] = "";
  if (!fgets(buffer, sizeof buffer, pipe)) buffer[0] = '\0';
  pclose(pipe);
  std::string path(buffer);
  while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
  return path;
}

class SymbolizerTest : public ::testing::Test {
 protected:
  void TearDown() override { symbolizer_shutdown(); }
};

// --- This binary ------------------------------------------------------------------------

TEST_F(SymbolizerTest, NamesAFunctionOfThisBinary) {
  int line = 0;
  uintptr_t pc = call_site_in(symbolizer_target_a, &line);
  SymbolizedFrame frames[8];
  int count = symbolize(pc, frames, 8);
  ASSERT_GE(count, 1);
  const SymbolizedFrame& frame = frames[count - 1];
  EXPECT_NE(strstr(frame.function, "symbolizer_target_a"), nullptr) << frame.function;
  EXPECT_EQ(std::string(frame.module), executable_path());
  EXPECT_EQ(frame.module_offset, pc - load_bias_of(pc));
  EXPECT_FALSE(frame.inlined);
  if (!self_has_debug_info()) {
    printf("this test binary has no debug information: file and line not checked\n");
    return;
  }
  EXPECT_TRUE(ends_with(frame.file, "symbolizer_test.cc")) << frame.file;
  EXPECT_EQ(frame.line, line);
}

// A template whose mangled name llvm-symbolizer 14 cannot demangle (an expression among
// its template arguments): the frame still names it in C++ (c++filt reads it).
template <typename Item>
__attribute__((noinline))
typename std::enable_if<std::is_convertible<Item (*)[], const long (*)[]>::value, long>::type
first_of_array(Item* items) {
  return static_cast<long>(items[0]);
}

TEST_F(SymbolizerTest, NamesATemplateTheSymbolizerLeavesMangled) {
  if (find_program("c++filt").empty()) GTEST_SKIP() << "c++filt is not installed";
  long items[2] = {3, 4};
  EXPECT_EQ(first_of_array(items), 3);
  SymbolizedFrame frames[8];
  int count = symbolize(reinterpret_cast<uintptr_t>(&first_of_array<long>), frames, 8);
  ASSERT_GE(count, 1);
  EXPECT_NE(strstr(frames[count - 1].function, "first_of_array<long>(long*)"), nullptr)
      << frames[count - 1].function;
}

TEST_F(SymbolizerTest, ExpandsInlinedFramesOfThisBinary) {
  int line = 0;
  uintptr_t pc = call_site_in(calls_inlined_recorder, &line);
  SymbolizedFrame frames[8];
  int count = symbolize(pc, frames, 8);
  ASSERT_GE(count, 1);
  EXPECT_NE(strstr(frames[count - 1].function, "calls_inlined_recorder"), nullptr)
      << frames[count - 1].function;
  if (!self_has_debug_info()) GTEST_SKIP() << "no debug information in this test binary";
  ASSERT_EQ(count, 2);
  EXPECT_NE(strstr(frames[0].function, "inlined_recorder"), nullptr) << frames[0].function;
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_EQ(frames[0].line, line);
  EXPECT_FALSE(frames[1].inlined);
  EXPECT_EQ(std::string(frames[0].module), std::string(frames[1].module));
  EXPECT_EQ(frames[0].module_offset, frames[1].module_offset);
}

TEST_F(SymbolizerTest, UnknownAddressGivesARawFrame) {
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  uintptr_t pc = reinterpret_cast<uintptr_t>(page) + 16;
  SymbolizedFrame frame;
  ASSERT_EQ(symbolize(pc, &frame, 1), 1);
  EXPECT_STREQ(frame.function, "");
  EXPECT_STREQ(frame.file, "");
  EXPECT_STREQ(frame.module, "");
  EXPECT_EQ(frame.module_offset, pc);
  char expected[128];
  snprintf(expected, sizeof expected, "    #3 0x%lx (<unknown module>)\n", pc);
  EXPECT_EQ(format(pc, frame, 3), expected);
  munmap(page, 4096);
}

TEST_F(SymbolizerTest, CodeWithoutSymbolsGivesModuleAndOffset) {
  // The ELF header of this binary: inside the module, in no function.
  uintptr_t pc = call_site_in(symbolizer_target_a);
  Dl_info info;
  ASSERT_TRUE(dladdr(reinterpret_cast<void*>(pc), &info));
  uintptr_t header = reinterpret_cast<uintptr_t>(info.dli_fbase) + 8;
  SymbolizedFrame frame;
  ASSERT_EQ(symbolize(header, &frame, 1), 1);
  // The runtime refers to the linker's __ehdr_start (to know its own code range), so the
  // header may carry that one size-0 label; no function name may appear otherwise.
  bool linker_label = std::string(frame.function) == "__ehdr_start";
  if (!linker_label) {
    EXPECT_STREQ(frame.function, "");
  }
  EXPECT_EQ(std::string(frame.module), executable_path());
  EXPECT_EQ(frame.module_offset, header - load_bias_of(header));
  std::string build_id = build_id_from_file(executable_path());
  EXPECT_EQ(std::string(frame.build_id), build_id);
  std::string id_suffix = build_id.empty() ? "" : " (BuildId: " + build_id + ")";
  char expected[4200];
  snprintf(expected, sizeof expected, "    #0 0x%lx%s (%s+0x%lx)%s\n", header,
           linker_label ? " in __ehdr_start" : "", frame.module, frame.module_offset,
           id_suffix.c_str());
  EXPECT_EQ(format(header, frame), expected);
}

// The build id comes from the notes of the loaded module, and must be what its file holds:
// this binary's, and the C library's (another module, found by an address inside it).
TEST_F(SymbolizerTest, BuildIdsMatchTheFilesOnDisk) {
  std::string own = build_id_from_file(executable_path());
  if (own.empty()) GTEST_SKIP() << "this binary was linked without a build id";
  char id[65];
  EXPECT_TRUE(module_build_id(call_site_in(symbolizer_target_a), id, sizeof id));
  EXPECT_EQ(std::string(id), own);

  Dl_info info;
  ASSERT_TRUE(dladdr(reinterpret_cast<void*>(&strlen), &info));
  std::string libc = build_id_from_file(info.dli_fname);
  EXPECT_EQ(module_build_id(reinterpret_cast<uintptr_t>(&strlen), id, sizeof id), !libc.empty());
  EXPECT_EQ(std::string(id), libc) << info.dli_fname;
  EXPECT_NE(std::string(id), own);

  // Outside every module, or with too little room for the id: none.
  void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  EXPECT_FALSE(module_build_id(reinterpret_cast<uintptr_t>(page), id, sizeof id));
  EXPECT_STREQ(id, "");
  munmap(page, 4096);
  EXPECT_FALSE(module_build_id(call_site_in(symbolizer_target_a), id, 8));
}

TEST_F(SymbolizerTest, FormatsFramesInAsanLayout) {
  SymbolizedFrame frame;
  memset(&frame, 0, sizeof frame);
  strcpy(frame.module, "/bin/prog");
  frame.module_offset = 0x1234;
  EXPECT_EQ(format(0x401234, frame, 0), "    #0 0x401234 (/bin/prog+0x1234)\n");
  strcpy(frame.function, "main");
  EXPECT_EQ(format(0x401234, frame, 1), "    #1 0x401234 in main (/bin/prog+0x1234)\n");
  strcpy(frame.file, "/src/prog.c");
  frame.line = 12;
  EXPECT_EQ(format(0x401234, frame, 2), "    #2 0x401234 in main /src/prog.c:12\n");
  frame.column = 5;
  EXPECT_EQ(format(0x401234, frame, 3), "    #3 0x401234 in main /src/prog.c:12:5\n");
  // A build id is shown where the frame is a module and offset, for symbolizing it later.
  strcpy(frame.build_id, "0123abcd");
  EXPECT_EQ(format(0x401234, frame, 4), "    #4 0x401234 in main /src/prog.c:12:5\n");
  frame.file[0] = '\0';
  EXPECT_EQ(format(0x401234, frame, 5),
            "    #5 0x401234 in main (/bin/prog+0x1234) (BuildId: 0123abcd)\n");
}

TEST_F(SymbolizerTest, StackFramesAndSummaryAreSymbolized) {
  uintptr_t return_address = call_site_in(symbolizer_target_b) + 1;
  char buffer[4096];
  Formatter out(buffer, sizeof buffer);
  int next = stack_format_frame(out, 4, return_address);
  std::string text(out.data(), out.length());
  EXPECT_GE(next, 5);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "    #4 0x%lx in ", return_address - 1);
  EXPECT_EQ(text.rfind(prefix, 0), 0u) << text;
  EXPECT_NE(text.find("symbolizer_target_b"), std::string::npos) << text;

  out.clear();
  stack_format_location(out, return_address);
  std::string location(out.data(), out.length());
  if (self_has_debug_info()) {
    EXPECT_NE(location.find("symbolizer_test.cc:"), std::string::npos) << location;
    EXPECT_NE(location.find(" in "), std::string::npos) << location;
  } else {
    EXPECT_EQ(location.rfind("(" + executable_path() + "+0x", 0), 0u) << location;
  }
  EXPECT_NE(location.find("symbolizer_target_b"), std::string::npos) << location;
}

TEST_F(SymbolizerTest, RepeatedFramesComeFromTheCache) {
  uintptr_t pc = call_site_in(symbolizer_target_c);
  SymbolizedFrame first[8], second[8];
  int count = symbolize(pc, first, 8);
  ASSERT_GE(count, 1);
  int pid = symbolizer_process_id();
  symbolizer_shutdown();  // a cached answer needs no symbolizer
  ASSERT_EQ(symbolize(pc, second, 8), count);
  EXPECT_EQ(symbolizer_process_id(), 0) << "was running: " << pid;
  for (int i = 0; i < count; ++i) {
    EXPECT_STREQ(first[i].function, second[i].function);
    EXPECT_STREQ(first[i].file, second[i].file);
    EXPECT_EQ(first[i].line, second[i].line);
    EXPECT_EQ(first[i].column, second[i].column);
    EXPECT_EQ(first[i].inlined, second[i].inlined);
  }
}

TEST_F(SymbolizerTest, DisabledGivesRawFrames) {
  symbolizer_disable();
  uintptr_t pc = call_site_in(symbolizer_target_a);
  SymbolizedFrame frame;
  ASSERT_EQ(symbolize(pc, &frame, 1), 1);
  EXPECT_STREQ(frame.file, "");
  EXPECT_EQ(std::string(frame.module), executable_path());
  EXPECT_EQ(symbolizer_process_id(), 0);
  symbolizer_set_path(nullptr);  // back on
  SymbolizedFrame frames[4];
  int count = symbolize(pc, frames, 4);
  EXPECT_NE(strstr(frames[count - 1].function, "symbolizer_target_a"), nullptr);
}

TEST_F(SymbolizerTest, BadPathGivesRawFrames) {
  symbolizer_set_path("/nonexistent/llvm-symbolizer");
  uintptr_t pc = call_site_in(symbolizer_target_b);
  SymbolizedFrame frame;
  ASSERT_EQ(symbolize(pc, &frame, 1), 1);
  EXPECT_STREQ(frame.file, "");
  EXPECT_EQ(frame.module_offset, pc - load_bias_of(pc));
}

TEST_F(SymbolizerTest, Addr2lineWorksToo) {
  std::string addr2line = find_program("addr2line");
  if (addr2line.empty()) GTEST_SKIP() << "addr2line is not installed";
  symbolizer_set_path(addr2line.c_str());
  int line = 0;
  uintptr_t pc = call_site_in(symbolizer_target_c, &line);
  SymbolizedFrame frames[8];
  int count = symbolize(pc, frames, 8);
  ASSERT_GE(count, 1);
  EXPECT_NE(strstr(frames[count - 1].function, "symbolizer_target_c"), nullptr)
      << frames[count - 1].function;
  EXPECT_NE(symbolizer_process_id(), 0);
  if (self_has_debug_info()) {
    EXPECT_EQ(frames[count - 1].line, line);
  }
  // A second module (the C library) gets a second addr2line.
  SymbolizedFrame libc_frame;
  symbolize(reinterpret_cast<uintptr_t>(&getpid) + 1, &libc_frame, 1);
  EXPECT_NE(std::string(libc_frame.module).find("libc"), std::string::npos);
}

TEST_F(SymbolizerTest, RestartsAfterTheSymbolizerDies) {
  SymbolizedFrame frames[8];
  symbolize(call_site_in(symbolizer_target_a), frames, 8);
  int pid = symbolizer_process_id();
  if (pid == 0) GTEST_SKIP() << "no external symbolizer on this machine";
  kill(pid, SIGKILL);
  // The next question finds it dead (a raw frame, no hang, no SIGPIPE)...
  int count = symbolize(call_site_in(symbolizer_target_b), frames, 8);
  EXPECT_GE(count, 1);
  // ...and the one after starts a new symbolizer.
  count = symbolize(call_site_in(symbolizer_target_c), frames, 8);
  ASSERT_GE(count, 1);
  EXPECT_NE(strstr(frames[count - 1].function, "symbolizer_target_c"), nullptr);
  int restarted = symbolizer_process_id();
  EXPECT_NE(restarted, 0);
  EXPECT_NE(restarted, pid);
}

TEST_F(SymbolizerTest, ASymbolizerThatExitsAtOnceGivesRawFrames) {
  symbolizer_set_path("/bin/true");
  void (*targets[])() = {symbolizer_target_a, symbolizer_target_b, symbolizer_target_c,
                         calls_inlined_recorder};
  for (auto target : targets) {
    uintptr_t pc = call_site_in(target);
    SymbolizedFrame frame;
    ASSERT_EQ(symbolize(pc, &frame, 1), 1);
    EXPECT_STREQ(frame.file, "");
    EXPECT_EQ(frame.module_offset, pc - load_bias_of(pc));
  }
  EXPECT_EQ(symbolizer_process_id(), 0);
}

TEST_F(SymbolizerTest, ASymbolizerThatHangsIsGivenUp) {
  char directory[] = "/tmp/tally-symbolizer-XXXXXX";
  ASSERT_NE(mkdtemp(directory), nullptr);
  std::string script = std::string(directory) + "/silent-llvm-symbolizer";
  std::ofstream(script) << "#!/bin/sh\nexec sleep 60\n";
  chmod(script.c_str(), 0755);
  symbolizer_set_timeout_for_testing(300);
  symbolizer_set_path(script.c_str());
  SymbolizedFrame frame;
  uintptr_t pc = call_site_in(symbolizer_target_a);
  ASSERT_EQ(symbolize(pc, &frame, 1), 1);  // waits 300 ms, kills it
  EXPECT_STREQ(frame.file, "");
  EXPECT_EQ(symbolizer_process_id(), 0);
  // Given up: the next frames do not wait again.
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  symbolize(call_site_in(symbolizer_target_b), &frame, 1);
  symbolize(call_site_in(symbolizer_target_c), &frame, 1);
  clock_gettime(CLOCK_MONOTONIC, &end);
  EXPECT_LT(end.tv_sec - start.tv_sec, 1);
  symbolizer_set_timeout_for_testing(0);
  unlink(script.c_str());
  rmdir(directory);
}

// A program that closes every descriptor above stderr (daemons do, and children before
// they run something) closes the symbolizer's socket too, and a file it opens next takes
// the socket's number. The next report wrote its question to that file, and ended the
// symbolizer by closing the program's descriptor.
TEST_F(SymbolizerTest, ASocketTheProgramClosedAndReusedIsLeftToTheProgram) {
  SymbolizedFrame frames[8];
  symbolize(call_site_in(symbolizer_target_a), frames, 8);
  int first = symbolizer_process_id();
  if (first == 0) GTEST_SKIP() << "no external symbolizer on this machine";
  for (int fd = 3; fd < 256; ++fd) close(fd);
  char path[] = "/tmp/tally-symbolizer-test-XXXXXX";
  int programs_file = mkstemp(path);
  ASSERT_GE(programs_file, 0);
  int count = symbolize(call_site_in(symbolizer_target_b), frames, 8);
  ASSERT_GE(count, 1);
  EXPECT_NE(strstr(frames[count - 1].function, "symbolizer_target_b"), nullptr)
      << "a new symbolizer answers";
  struct stat status;
  ASSERT_EQ(fstat(programs_file, &status), 0) << "the program's descriptor is still open";
  EXPECT_EQ(status.st_size, 0) << "tally wrote into the program's file";
  close(programs_file);
  unlink(path);
}

TEST_F(SymbolizerTest, WorksInAForkedChild) {
  SymbolizedFrame frames[8];
  symbolize(call_site_in(symbolizer_target_a), frames, 8);
  int parent_symbolizer = symbolizer_process_id();
  uintptr_t pc_b = call_site_in(symbolizer_target_b);
  uintptr_t pc_c = call_site_in(symbolizer_target_c);
  fflush(stdout);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    SymbolizedFrame child_frames[8];
    int count = symbolize(pc_b, child_frames, 8);
    bool ok = count >= 1 && strstr(child_frames[count - 1].function, "symbolizer_target_b");
    int own = symbolizer_process_id();
    ok = ok && (parent_symbolizer == 0 || (own != 0 && own != parent_symbolizer));
    symbolizer_shutdown();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  // The child left the parent's symbolizer alone.
  EXPECT_EQ(symbolizer_process_id(), parent_symbolizer);
  int count = symbolize(pc_c, frames, 8);
  ASSERT_GE(count, 1);
  EXPECT_NE(strstr(frames[count - 1].function, "symbolizer_target_c"), nullptr);
}

TEST_F(SymbolizerTest, ChildRunsWithoutLibtallyPreloaded) {
  std::string real = find_program("llvm-symbolizer");
  if (real.empty() && access("/usr/bin/llvm-symbolizer-14", X_OK) == 0)
    real = "/usr/bin/llvm-symbolizer-14";
  if (real.empty()) GTEST_SKIP() << "llvm-symbolizer is not installed";
  char directory[] = "/tmp/tally-symbolizer-XXXXXX";
  ASSERT_NE(mkdtemp(directory), nullptr);
  std::string script = std::string(directory) + "/wrapped-llvm-symbolizer";
  std::string record = std::string(directory) + "/preload.txt";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\nprintf '%s\\n' \"${LD_PRELOAD-<unset>}\" > " << record << "\nexec " << real
        << " \"$@\"\n";
  }
  chmod(script.c_str(), 0755);
  auto preload_seen = [&](const char* preload) {
    setenv("LD_PRELOAD", preload, 1);
    symbolizer_set_path(script.c_str());  // restarts the child, clears the cache
    SymbolizedFrame frame;
    symbolize(call_site_in(symbolizer_target_a), &frame, 1);
    symbolizer_shutdown();
    unsetenv("LD_PRELOAD");
    std::ifstream in(record);
    std::string line;
    std::getline(in, line);
    return line;
  };
  EXPECT_EQ(preload_seen("/opt/x/libtally.so"), "<unset>");
  EXPECT_EQ(preload_seen("/opt/x/libother.so:/opt/x/libtally.so /opt/y/libmore.so"),
            "/opt/x/libother.so:/opt/y/libmore.so");
  unlink(script.c_str());
  unlink(record.c_str());
  rmdir(directory);
}

// --- A library compiled with debug information, and a stripped one ----------------------

const char kLibrarySource[] =
    "typedef void (*callback)(void);\n"                                         // 1
    "static inline __attribute__((always_inline)) void inner(callback cb) {\n"  // 2
    "  cb();\n"                                                                 // 3
    "}\n"                                                                       // 4
    "__attribute__((noinline)) void outer(callback cb) {\n"                     // 5
    "  inner(cb);\n"                                                            // 6
    "  __asm__ volatile(\"\" ::: \"memory\");\n"                                // 7
    "}\n";

const char kStrippedSource[] =
    "static __attribute__((noinline)) int hidden_work(int x) { return x * 3 + 1; }\n"
    "void* hidden_address(void) { return (void*)&hidden_work; }\n"
    "int use_hidden(int x) { return hidden_work(x); }\n";

class CompiledLibraryTest : public SymbolizerTest {
 protected:
  void SetUp() override {
    compiler_ = find_program("cc");
    if (compiler_.empty()) compiler_ = find_program("gcc");
    if (compiler_.empty()) compiler_ = find_program("clang");
    if (compiler_.empty()) GTEST_SKIP() << "no C compiler to build the test library";
    ASSERT_NE(mkdtemp(directory_), nullptr);
    made_directory_ = true;
  }
  void TearDown() override {
    SymbolizerTest::TearDown();
    for (void* handle : handles_) dlclose(handle);
    if (made_directory_) {
      ASSERT_EQ(system(("rm -rf " + std::string(directory_)).c_str()), 0);
    }
  }
  // Compiles `source` into a shared library and loads it; returns the handle.
  void* build(const char* name, const char* source, const char* flags) {
    std::string base = std::string(directory_) + "/" + name;
    std::ofstream(base + ".c") << source;
    std::string command =
        compiler_ + " " + flags + " -fPIC -shared -o " + base + ".so " + base + ".c 2>&1";
    if (system(command.c_str()) != 0) return nullptr;
    void* handle = dlopen((base + ".so").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) handles_.push_back(handle);
    return handle;
  }
  std::string path_of(const char* name) { return std::string(directory_) + "/" + name + ".so"; }

  std::string compiler_;
  char directory_[32] = "/tmp/tally-symbolizer-XXXXXX";
  bool made_directory_ = false;
  std::vector<void*> handles_;
};

uintptr_t g_callback_return = 0;
__attribute__((noinline)) void note_callback_return() {
  g_callback_return = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  NO_TAIL_CALL();
}

TEST_F(CompiledLibraryTest, FileLineColumnAndInlinedFrames) {
  void* library = build("libinlined", kLibrarySource, "-g -O2");
  ASSERT_NE(library, nullptr);
  auto outer = reinterpret_cast<void (*)(void (*)())>(dlsym(library, "outer"));
  ASSERT_NE(outer, nullptr);
  outer(note_callback_return);
  uintptr_t pc = g_callback_return - 1;
  SymbolizedFrame frames[8];
  int count = symbolize(pc, frames, 8);
  ASSERT_EQ(count, 2) << frames[0].function;
  EXPECT_STREQ(frames[0].function, "inner");
  EXPECT_TRUE(ends_with(frames[0].file, "libinlined.c")) << frames[0].file;
  EXPECT_EQ(frames[0].line, 3);
  EXPECT_EQ(frames[0].column, 3);
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_STREQ(frames[1].function, "outer");
  EXPECT_EQ(frames[1].line, 6);
  EXPECT_EQ(frames[1].column, 3);
  EXPECT_FALSE(frames[1].inlined);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(std::string(frames[i].module), path_of("libinlined"));
    EXPECT_EQ(frames[i].module_offset, pc - load_bias_of(pc));
  }
  // In a report, both lines, successive numbers, one address.
  char buffer[4096];
  Formatter out(buffer, sizeof buffer);
  EXPECT_EQ(stack_format_frame(out, 7, pc + 1), 9);
  std::string text(out.data(), out.length());
  char expected[2048];
  snprintf(expected, sizeof expected,
           "    #7 0x%lx in inner %s:3:3\n    #8 0x%lx in outer %s:6:3\n", pc, frames[0].file, pc,
           frames[1].file);
  EXPECT_EQ(text, expected);
  out.clear();
  stack_format_location(out, pc + 1);
  EXPECT_EQ(std::string(out.data(), out.length()), std::string(frames[0].file) + ":3 in inner");
}

TEST_F(CompiledLibraryTest, Addr2lineExpandsInlinedFrames) {
  std::string addr2line = find_program("addr2line");
  if (addr2line.empty()) GTEST_SKIP() << "addr2line is not installed";
  void* library = build("libinlined", kLibrarySource, "-g -O2");
  ASSERT_NE(library, nullptr);
  auto outer = reinterpret_cast<void (*)(void (*)())>(dlsym(library, "outer"));
  ASSERT_NE(outer, nullptr);
  outer(note_callback_return);
  symbolizer_set_path(addr2line.c_str());
  SymbolizedFrame frames[8];
  int count = symbolize(g_callback_return - 1, frames, 8);
  ASSERT_EQ(count, 2);
  EXPECT_STREQ(frames[0].function, "inner");
  EXPECT_EQ(frames[0].line, 3);
  EXPECT_TRUE(frames[0].inlined);
  EXPECT_STREQ(frames[1].function, "outer");
  EXPECT_EQ(frames[1].line, 6);
}

TEST_F(CompiledLibraryTest, StrippedCodeGivesModuleAndOffset) {
  void* library = build("libstripped", kStrippedSource, "-O2 -s");
  ASSERT_NE(library, nullptr);
  auto hidden_address = reinterpret_cast<void* (*)()>(dlsym(library, "hidden_address"));
  ASSERT_NE(hidden_address, nullptr);
  uintptr_t pc = reinterpret_cast<uintptr_t>(hidden_address()) + 1;
  SymbolizedFrame frames[8];
  int count = symbolize(pc, frames, 8);
  ASSERT_EQ(count, 1);
  EXPECT_STREQ(frames[0].function, "");
  EXPECT_STREQ(frames[0].file, "");
  EXPECT_EQ(std::string(frames[0].module), path_of("libstripped"));
  EXPECT_EQ(frames[0].module_offset, pc - load_bias_of(pc));
  // Stripping keeps the build id: the frame names the exact file to symbolize it with.
  std::string build_id = build_id_from_file(path_of("libstripped"));
  EXPECT_FALSE(build_id.empty()) << "the compiler driver links with --build-id on Debian";
  EXPECT_EQ(std::string(frames[0].build_id), build_id);
  std::string id_suffix = build_id.empty() ? "" : " (BuildId: " + build_id + ")";
  char expected[4200];
  snprintf(expected, sizeof expected, "    #0 0x%lx (%s+0x%lx)%s\n", pc, frames[0].module,
           frames[0].module_offset, id_suffix.c_str());
  EXPECT_EQ(format(pc, frames[0]), expected);
}

}  // namespace
}  // namespace tally
