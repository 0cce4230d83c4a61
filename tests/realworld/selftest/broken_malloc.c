// Preload libraries for tests/realworld/selftest.sh: one correct wrapper around glibc's
// malloc (the control, which every test must pass) and deliberately broken ones (which the
// tests must catch). Build one with -DKIND_<NAME>=1; none of this is part of tally.
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
extern void* __libc_malloc(size_t);
extern void __libc_free(void*);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
#include <dlfcn.h>
/* glibc's own malloc_usable_size, whatever else the program links (redis links jemalloc). */
__attribute__((unused)) static size_t libc_usable_size(void* p) {
  static size_t (*real)(void*);
  if (!real) real = (size_t (*)(void*))dlsym(dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD), "malloc_usable_size");
  return real(p);
}
#if !KIND_SAME
size_t malloc_usable_size(void* p) { return p ? libc_usable_size(p) : 0; }
#endif

#if KIND_SAME
/* Every malloc returns the same buffer. */
static char buffer[64 << 20] __attribute__((aligned(64)));
static int in_buffer(void* p) { return (char*)p >= buffer && (char*)p < buffer + sizeof buffer; }
void* malloc(size_t n) { (void)n; return buffer; }
void* calloc(size_t a, size_t b) { memset(buffer, 0, a * b < sizeof buffer ? a * b : sizeof buffer); return buffer; }
void* realloc(void* p, size_t n) { (void)p; (void)n; return buffer; }
void free(void* p) { if (p && !in_buffer(p)) __libc_free(p); }
size_t malloc_usable_size(void* p) { return in_buffer(p) ? sizeof buffer : 0; }
#elif KIND_SHORT
/* Under-allocates blocks of 64 bytes and more by 1/8: a size-class rounding bug. */
void* malloc(size_t n) { return __libc_malloc(n >= 64 ? n - n / 8 : n); }
void* calloc(size_t a, size_t b) { return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { return __libc_realloc(p, n >= 64 ? n - n / 8 : n); }
void free(void* p) { __libc_free(p); }
#elif KIND_NOCOPY
/* realloc to a bigger size moves the block without copying its contents. */
void* malloc(size_t n) { return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { return __libc_calloc(a, b); }
void free(void* p) { __libc_free(p); }
void* realloc(void* p, size_t n) {
  if (!p) return __libc_malloc(n);
  if (n == 0) { __libc_free(p); return NULL; }
  size_t old = libc_usable_size(p);
  if (n <= old) return p;
  void* q = __libc_malloc(n);
  if (q) { memset(q, 0x5a, n); __libc_free(p); }
  return q;
}
#elif KIND_REUSE
/* Every 997th malloc hands out a block that was freed a moment ago but is ALSO recycled by
 * glibc: a free-list bug that makes two live objects share memory. */
static void* recent;
static size_t recent_size;
static unsigned long calls;
void* malloc(size_t n) {
  void* p = __libc_malloc(n);
  if (++calls > 50000 && calls % 5003 == 0 && recent && n <= recent_size) return recent; /* alias a live block */
  if (n >= 16 && n <= 512) { recent = p; recent_size = n; }
  return p;
}
void* calloc(size_t a, size_t b) { return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { if (p == recent) recent = NULL; return __libc_realloc(p, n); }
void free(void* p) { if (p == recent) recent = NULL; __libc_free(p); }
#elif KIND_MARKER
/* A correct allocator that reports a (fake) error at exit, as tally would. */
void* malloc(size_t n) { return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
__attribute__((destructor)) static void report(void) {
  static const char message[] = "==1==ERROR: tally: double free of 0x1234 (fake report)\n";
  (void)!write(2, message, sizeof message - 1);
}
#elif KIND_CORRECT
/* A correct wrapper around glibc, as a control. */
void* malloc(size_t n) { return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
#endif
