// malloc and free on the thread-exit paths: in a thread_local object's destructor, in
// pthread key destructors (including later destructor rounds and a block allocated by
// another thread), and in exit() handlers of the main thread. Blocks allocated that late
// must stay valid after the thread is gone.
#include <gtest/gtest.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tally_test_support.h"

namespace {

using tally_test::CheckPattern;
using tally_test::FillPattern;

constexpr int kThreads = 96;
constexpr int kWaveSize = 8;

struct Survivor {
  void* pointer;
  size_t size;
  uint64_t salt;
};

std::mutex g_survivors_mutex;
std::vector<Survivor> g_survivors;
std::atomic<int> g_failures{0};
std::atomic<int> g_tls_destructors{0};
std::atomic<int> g_key_destructors{0};
std::atomic<int> g_key_second_round{0};

// Allocates and frees a spread of sizes, checking each; returns false on any problem.
bool MallocAndFreeSome(uint64_t seed) {
  tally_test::Rng rng(seed);
  bool ok = true;
  void* blocks[32];
  size_t sizes[32];
  for (int i = 0; i < 32; ++i) {
    sizes[i] = i % 8 == 7 ? rng.Range(100000, 2 << 20) : rng.Range(1, 3000);
    blocks[i] = malloc(sizes[i]);
    if (blocks[i] == nullptr) return false;
    FillPattern(blocks[i], sizes[i], seed);
  }
  for (int i = 0; i < 32; ++i) {
    ok &= CheckPattern(blocks[i], sizes[i], seed);
    free(blocks[i]);
  }
  return ok;
}

// Allocates a block at the end of a thread's life and hands it to the main thread.
void LeaveSurvivor(size_t size, uint64_t salt) {
  void* block = malloc(size);
  if (block == nullptr) {
    g_failures.fetch_add(1);
    return;
  }
  FillPattern(block, size, salt);
  std::lock_guard<std::mutex> lock(g_survivors_mutex);
  g_survivors.push_back({block, size, salt});
}

struct TlsObject {
  void* block = nullptr;
  size_t size = 0;
  uint64_t salt = 0;
  TlsObject() {
    static std::atomic<uint64_t> counter{1};
    salt = counter.fetch_add(1);
    size = 100 + salt % 5000;
    block = malloc(size);
    if (block != nullptr) FillPattern(block, size, salt);
  }
  ~TlsObject() {
    if (block == nullptr || !CheckPattern(block, size, salt)) g_failures.fetch_add(1);
    free(block);
    if (!MallocAndFreeSome(salt)) g_failures.fetch_add(1);
    LeaveSurvivor(salt % 3 == 0 ? 300000 : 64, salt + 0x7700);
    g_tls_destructors.fetch_add(1);
  }
};
thread_local TlsObject t_object;

struct KeyValue {
  void* foreign;  // allocated by another thread
  size_t foreign_size;
  uint64_t salt;
  int round;
};

pthread_key_t g_key;

void KeyDestructor(void* raw) {
  KeyValue* value = static_cast<KeyValue*>(raw);
  if (!MallocAndFreeSome(value->salt * 31 + static_cast<uint64_t>(value->round))) {
    g_failures.fetch_add(1);
  }
  if (value->foreign != nullptr) {
    if (!CheckPattern(value->foreign, value->foreign_size, value->salt)) g_failures.fetch_add(1);
    free(value->foreign);  // a block another thread allocated
    value->foreign = nullptr;
  }
  if (value->round == 0) {
    // Set the key again: a later destructor round runs, after this one allocated.
    KeyValue* next = static_cast<KeyValue*>(malloc(sizeof(KeyValue)));
    if (next == nullptr) {
      g_failures.fetch_add(1);
    } else {
      *next = {nullptr, 0, value->salt, 1};
      pthread_setspecific(g_key, next);
    }
    g_key_destructors.fetch_add(1);
  } else {
    LeaveSurvivor(4000, value->salt + 0x9900);
    g_key_second_round.fetch_add(1);
  }
  free(value);
}

void ExitingThread(int index, void* foreign, size_t foreign_size, uint64_t foreign_salt) {
  // Touch the thread_local so its constructor runs (and its destructor at exit).
  if (t_object.block == nullptr) g_failures.fetch_add(1);
  KeyValue* value = static_cast<KeyValue*>(malloc(sizeof(KeyValue)));
  if (value == nullptr) {
    g_failures.fetch_add(1);
    return;
  }
  *value = {foreign, foreign_size, foreign_salt, 0};
  pthread_setspecific(g_key, value);
  if (!MallocAndFreeSome(static_cast<uint64_t>(index) + 777)) g_failures.fetch_add(1);
}

TEST(StressThreadExit, DestructorsAllocateAndFree) {
  ASSERT_EQ(pthread_key_create(&g_key, KeyDestructor), 0);
  g_survivors.reserve(4 * kThreads);
  for (int first = 0; first < kThreads; first += kWaveSize) {
    std::vector<std::thread> wave;
    for (int i = first; i < first + kWaveSize; ++i) {
      // The main thread allocates the block the exiting thread's key destructor frees.
      size_t size = 16 + static_cast<size_t>(i) * 997 % 20000;
      void* foreign = malloc(size);
      if (foreign == nullptr) {
        g_failures.fetch_add(1);
        continue;
      }
      uint64_t salt = 0x4400 + static_cast<uint64_t>(i);
      FillPattern(foreign, size, salt);
      wave.emplace_back(ExitingThread, i, foreign, size, salt);
    }
    for (std::thread& thread : wave) thread.join();
  }
  EXPECT_EQ(g_failures.load(), 0);
  EXPECT_EQ(g_tls_destructors.load(), kThreads);
  EXPECT_EQ(g_key_destructors.load(), kThreads);
  EXPECT_EQ(g_key_second_round.load(), kThreads) << "later destructor rounds";
  // Blocks allocated in the destructors outlive their threads.
  std::lock_guard<std::mutex> lock(g_survivors_mutex);
  EXPECT_EQ(g_survivors.size(), 2u * kThreads);
  for (const Survivor& survivor : g_survivors) {
    EXPECT_TRUE(CheckPattern(survivor.pointer, survivor.size, survivor.salt));
    free(survivor.pointer);
  }
  g_survivors.clear();
  pthread_key_delete(g_key);
}

// Threads hand their blocks over as they exit, and another thread frees them meanwhile.
TEST(StressThreadExit, BlocksFreedByOthersWhileOwnersExit) {
  constexpr int kOwners = 6;
  constexpr int kBlocksPerOwner = 500;
  std::atomic<int> failures{0};
  for (int round = 0; round < 20; ++round) {
    std::mutex mutex;
    std::vector<Survivor> handed;
    std::atomic<int> owners_done{0};
    std::atomic<size_t> handed_total{0};
    std::thread freer([&] {
      size_t freed = 0;
      for (;;) {
        bool all_done = owners_done.load() == kOwners;
        std::vector<Survivor> batch;
        {
          std::lock_guard<std::mutex> lock(mutex);
          batch.swap(handed);
        }
        for (const Survivor& block : batch) {
          if (!CheckPattern(block.pointer, block.size, block.salt)) failures.fetch_add(1);
          free(block.pointer);
          ++freed;
        }
        if (all_done && freed == handed_total.load()) break;
        if (batch.empty()) std::this_thread::yield();
      }
    });
    std::vector<std::thread> owners;
    for (int i = 0; i < kOwners; ++i) {
      owners.emplace_back([&, i] {
        std::vector<Survivor> mine;
        for (int k = 0; k < kBlocksPerOwner; ++k) {
          size_t size = 8 + static_cast<size_t>((k * 37 + i * 11 + round) % 2000);
          void* block = malloc(size);
          if (block == nullptr) {
            failures.fetch_add(1);
            continue;
          }
          FillPattern(block, size, static_cast<uint64_t>(k));
          mine.push_back({block, size, static_cast<uint64_t>(k)});
        }
        {
          std::lock_guard<std::mutex> lock(mutex);
          handed.insert(handed.end(), mine.begin(), mine.end());
          handed_total.fetch_add(mine.size());
        }
        owners_done.fetch_add(1);
        // ... and the thread exits right away, while the freer works on its blocks.
      });
    }
    for (std::thread& owner : owners) owner.join();
    freer.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

// The main thread's exit path: atexit handlers and the main thread's thread_local
// destructors allocate and free during exit(). Runs in a child so exit() can be called.
std::atomic<int> g_exit_pipe{-1};
struct MainThreadTls {
  ~MainThreadTls() {
    // Every thread of this file gets one (the compiler initializes a file's thread_locals
    // together); only the forked child's main thread reports.
    if (g_exit_pipe.load() < 0) return;
    bool ok = MallocAndFreeSome(4242);
    char mark = ok ? 'T' : 't';
    if (write(g_exit_pipe.load(), &mark, 1) != 1) _exit(3);
  }
};
thread_local MainThreadTls t_main_object;

void AtExitHandler() {
  bool ok = MallocAndFreeSome(5353);
  char* text = strdup("exit handler");
  ok &= text != nullptr && strcmp(text, "exit handler") == 0;
  free(text);
  char mark = ok ? 'A' : 'a';
  if (write(g_exit_pipe.load(), &mark, 1) != 1) _exit(3);
}

TEST(StressThreadExit, ExitHandlersAllocateAndFree) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20);
    close(fds[0]);
    g_exit_pipe.store(fds[1]);
    atexit(AtExitHandler);
    tally_test::Escape(&t_main_object);  // construct the main thread's thread_local
    exit(0);  // single-threaded, so a failure points at the exit path itself
  }
  close(fds[1]);
  std::string marks;
  char buffer[16];
  ssize_t length;
  while ((length = read(fds[0], buffer, sizeof buffer)) > 0) marks.append(buffer, length);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(marks.find('T'), std::string::npos) << "thread_local destructor: '" << marks << "'";
  EXPECT_NE(marks.find('A'), std::string::npos) << "atexit handler: '" << marks << "'";
  EXPECT_EQ(marks.find_first_of("ta"), std::string::npos) << "failed in exit path: " << marks;
}

}  // namespace
