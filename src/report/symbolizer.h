// Symbolization for reports: an instruction address becomes function, file, line and
// column (and the functions inlined there), with the help of an external symbolizer kept
// running as a child process: llvm-symbolizer when one is found, else addr2line.
//
// Report time only: these functions may allocate (posix_spawn, dladdr, dlopen), take the
// loader's lock and wait for the child; never call them with an allocator lock held.
// They are thread-safe (one lock, which a forked child takes over from a parent thread
// that held it) and fork-aware: a child never talks to its parent's symbolizer process,
// it starts its own. The child process runs without libtally in LD_PRELOAD. If it dies,
// hangs (10 s without an answer) or cannot be started, frames fall back to what dladdr
// knows: module, offset and the exported symbol, if any.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "report/output.h"

namespace tally {

struct SymbolizedFrame {
  char function[256];       // demangled; empty when unknown
  char file[512];           // empty when unknown
  int line;                 // 0 when unknown
  int column;               // 0 when unknown
  char module[512];         // path of the executable or library; empty when unknown
  uintptr_t module_offset;  // pc minus the module's load bias (the address in the file)
  // The module's GNU build id in hex (empty when it has none): with module and offset, it
  // names the exact file to symbolize a frame with later, on another machine.
  char build_id[65];
  bool inlined;  // inlined into the next frame of the same pc
};

// The GNU build id of the loaded module that holds `pc`, as lowercase hex, read from the
// module's notes in memory; false (and `out` empty) when no module holds it or it has no
// build id. `capacity` of 65 holds any id up to 32 bytes.
bool module_build_id(uintptr_t pc, char* out, size_t capacity);

// Symbolizes the instruction address `pc` (pass a return address minus one for a call
// site) into `out`, innermost inlined function first. Returns the number of frames stored
// (at least 1 when capacity >= 1): with nothing known, one frame with module and offset.
int symbolize(uintptr_t pc, SymbolizedFrame* out, int capacity);

// Uses the symbolizer at `path` (llvm-symbolizer, or addr2line if the file name contains
// "addr2line") instead of searching PATH; nullptr or "" restores the search. Also turns a
// symbolizer that was disabled back on.
void symbolizer_set_path(const char* path);
// No external symbolizer from now on: module, offset and exported symbols only.
void symbolizer_disable();
// Stops the symbolizer process, if any, and reaps it (at exit, or in tests). The next
// symbolize starts a new one.
void symbolizer_shutdown();
// The pid of the running symbolizer process of this process, 0 if none (for tests).
int symbolizer_process_id();
// Tests only: how long to wait for an answer before giving the symbolizer up (default 10 s;
// 0 restores the default).
void symbolizer_set_timeout_for_testing(int milliseconds);

// Appends ASan's frame line(s): `    #N 0xPC in FUNCTION FILE:LINE:COLUMN`, or
// `    #N 0xPC in FUNCTION (MODULE+0xOFFSET)`, or `    #N 0xPC (MODULE+0xOFFSET)`.
void format_symbolized_frame(Formatter& out, int number, uintptr_t pc,
                             const SymbolizedFrame& frame);

// Symbolizes `pc` and appends one line per frame (inlined frames get successive numbers,
// all print `pc`); returns the next frame number. Uses no large stack buffers.
int symbolizer_format_frame(Formatter& out, int number, uintptr_t pc);
// Appends the SUMMARY location of `pc`: `FILE:LINE in FUNCTION`, or
// `(MODULE+0xOFFSET) in FUNCTION`, or `(MODULE+0xOFFSET)`.
void symbolizer_format_location(Formatter& out, uintptr_t pc);

}  // namespace tally
