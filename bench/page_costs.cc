// page_costs: what the kernel (and a hypervisor under it) charges for the page operations
// safe and debug modes use, per 4 KiB page, so that their budgets rest on measured figures.
// Each line repeats one operation on a 1 MiB mapping and prints the median of 9 runs:
//   write            writing one byte per page of memory already mapped and touched
//   protect calls    mprotect(PROT_NONE) and back, nothing touched
//   protect+refault  the same, then a write to every page (the refault protection causes)
//   decommit+fault   MADV_DONTNEED, then a write to every page (a fresh page each)
//   remap+fault      munmap, mmap, then a write to every page
// usage: page_costs
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <vector>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kBytes = 1 << 20;
constexpr size_t kPages = kBytes / kPage;
constexpr int kRepeats = 50;

double seconds() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec + now.tv_nsec * 1e-9;
}

char* map_pages() {
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return nullptr;
  }
  return static_cast<char*>(p);
}

void write_pages(char* memory) {
  for (size_t page = 0; page < kPages; ++page)
    static_cast<volatile char*>(memory)[page * kPage] = static_cast<char>(page);
}

// Median microseconds per page of `operation` over 9 runs of kRepeats.
template <typename Operation>
double per_page(char** memory, Operation operation) {
  std::vector<double> runs;
  for (int run = 0; run < 9; ++run) {
    double started = seconds();
    for (int i = 0; i < kRepeats; ++i) operation(memory);
    runs.push_back((seconds() - started) / kRepeats / kPages * 1e6);
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

}  // namespace

int main() {
  char* memory = map_pages();
  if (!memory) return 1;
  write_pages(memory);
  printf("write            %7.3f us/page\n", per_page(&memory, [](char** m) { write_pages(*m); }));
  printf("protect calls    %7.3f us/page\n", per_page(&memory, [](char** m) {
           mprotect(*m, kBytes, PROT_NONE);
           mprotect(*m, kBytes, PROT_READ | PROT_WRITE);
         }));
  printf("protect+refault  %7.3f us/page\n", per_page(&memory, [](char** m) {
           mprotect(*m, kBytes, PROT_NONE);
           mprotect(*m, kBytes, PROT_READ | PROT_WRITE);
           write_pages(*m);
         }));
  printf("decommit+fault   %7.3f us/page\n", per_page(&memory, [](char** m) {
           madvise(*m, kBytes, MADV_DONTNEED);
           write_pages(*m);
         }));
  printf("remap+fault      %7.3f us/page\n", per_page(&memory, [](char** m) {
           munmap(*m, kBytes);
           *m = map_pages();
           if (*m) write_pages(*m);
         }));
  return 0;
}
