// The one table of options: it drives the defaults, the parsing of TALLY_OPTIONS, the
// `tally --help-options` text and the README's table. No other list of options exists.
//
// TALLY_OPTION(type, name, default, help)
//   type: bool, int, size (bytes, with an optional k/m/g suffix), string, mode,
//         tristate (0, 1, or auto: the mode decides)
TALLY_OPTION(mode, mode, "safe",
             "fast: allocator with always-on checks of every free; safe: adds quarantine "
             "with poison, canaries and sampled guard pages; debug: adds every stack, a "
             "guard page for every small block and mismatch checks; gc: not yet available "
             "(runs as safe)")
TALLY_OPTION(bool, halt_on_error, "1",
             "end the process after reporting an error (0: report and go on: a bad call is "
             "ignored, a faulting access runs once what it hit is opened)")
TALLY_OPTION(int, exitcode, "1", "exit status after an error report")
TALLY_OPTION(string, log_path, "",
             "write reports and statistics to PATH.PID (and reports as JSON lines to "
             "PATH.PID.json) instead of stderr")
TALLY_OPTION(bool, stats, "0",
             "print statistics at exit: bytes live and peak, RSS, calls per API, blocks per "
             "size class")
TALLY_OPTION(int, verbosity, "0", "1: print the options in effect at start-up")
TALLY_OPTION(tristate, huge_pages, "auto",
             "back the heap with transparent huge pages (madvise): auto, a thread's heap of "
             "blocks up to 4 KiB once it holds 32 MiB, until a huge page takes over 1 ms to "
             "fault in, slower than small pages (a virtual machine backing memory lazily); 1: "
             "from the first byte; 0: never (the system's setting still applies when it is "
             "\"always\")")
TALLY_OPTION(tristate, quarantine, "auto", "hold freed blocks back (auto: on in safe and debug)")
TALLY_OPTION(size, quarantine_bytes, "0",
             "bound of the quarantine (0: in safe mode a quarter of the live heap, at least "
             "4m and at most 256m; in debug mode the live heap, at least 20m and at most "
             "256m)")
TALLY_OPTION(size, thread_quarantine_bytes, "1m",
             "a thread's quarantined bytes that go to the global quarantine together")
TALLY_OPTION(tristate, poison, "auto",
             "fill freed blocks and verify them when they leave quarantine (write after free)")
TALLY_OPTION(size, poison_bytes, "0",
             "bytes of each freed block that are poisoned and verified (0: 4k in safe mode, "
             "the whole block in debug mode, but 64k of a large block left accessible)")
TALLY_OPTION(tristate, protect_large, "auto",
             "make freed large blocks inaccessible while quarantined, so any access faults "
             "(auto: on in debug, within guard_time_percent; a block past the budget, or with "
             "this off, is poisoned instead, at most 64k of it by default)")
TALLY_OPTION(tristate, canaries, "auto",
             "fill the slack after each block and verify it at free and realloc (overflow)")
TALLY_OPTION(tristate, canary_slack, "auto",
             "give every block at least one byte of slack for its canary (auto: on in safe and "
             "debug); a size that fills its size class takes the next one, about 1-5% more "
             "memory (`0` saves it, and an off-by-one write past such a block goes unseen)")
TALLY_OPTION(tristate, canaries_at_exit, "auto",
             "verify the canaries of the blocks still live at exit, so an overflow of a block "
             "that is never freed is reported too (auto: on in debug, and wherever the leak check "
             "runs at exit)")
TALLY_OPTION(tristate, alloc_dealloc_mismatch, "auto",
             "report malloc/delete, new/free, new[]/delete mismatches (auto: on in debug)")
TALLY_OPTION(tristate, new_delete_type_mismatch, "auto",
             "report a sized operator delete told another size than new was given, as when "
             "a derived object is deleted through a base without a virtual destructor (auto: "
             "on in debug)")
TALLY_OPTION(tristate, realloc_moves, "auto",
             "every realloc moves the block, so a stale pointer to the old one reaches the "
             "quarantine (auto: on in debug; off: a block with room grows or shrinks in place)")
TALLY_OPTION(tristate, alloc_stacks, "auto", "record every allocation's stack (auto: on in debug)")
TALLY_OPTION(tristate, free_stacks, "auto",
             "record every free's stack (auto: on in safe and debug)")
TALLY_OPTION(int, sample_rate, "5000",
             "safe mode: one allocation in this many sits before a guard page (0: none)")
TALLY_OPTION(size, guard_max_size, "256k", "largest block that may get a guard page")
TALLY_OPTION(int, guard_rate, "20000",
             "debug mode: guarded allocations per second and thread; past it the others get "
             "canaries and poison only, so busy programs stay fast (0: no limit)")
TALLY_OPTION(int, guard_time_percent, "10",
             "page protection (guard pages, freed large blocks) pauses while its cost to the "
             "whole process, the protection calls plus the refaults of the pages they "
             "change, is above this share of its time; past it blocks get canaries and "
             "poison only; 0: no limit")
TALLY_OPTION(int, guard_pool_size, "0",
             "guarded blocks alive at once (0: 256 in safe mode, 4096 in debug mode)")
TALLY_OPTION(string, guard_side, "right",
             "right: the guard page follows the block (overflows); left: it precedes it "
             "(underflows)")
TALLY_OPTION(int, guard_alignment, "0",
             "least alignment of a guarded block from malloc (1, 2, 4, 8 or 16): it is "
             "aligned to the largest power of two that divides its size, at most 16 and at "
             "least this, so that it ends at its guard page and a read past the end faults; "
             "0: what the C standard asks, 16 for blocks of 16 bytes or more (and compilers "
             "rely on it), so a size that is not a multiple of 16 leaves up to 15 bytes of "
             "slack before the guard page, covered by canaries; 1 or 2: byte-exact, for "
             "programs that never store 16-byte-aligned types in such blocks")
TALLY_OPTION(bool, guard_markers, "1",
             "make guard pages and freed guarded blocks inaccessible with the kernel's guard "
             "markers (Linux 6.13+; the pool then stays one mapping); 0, or an older kernel: "
             "with mprotect, two mappings per guarded block")
TALLY_OPTION(int, stack_depth, "30", "frames kept per allocation or free stack (1 to 64)")
TALLY_OPTION(bool, symbolize, "1", "symbolize report stacks to function, file and line")
TALLY_OPTION(tristate, leaks, "auto",
             "check for leaks at exit and report them like LeakSanitizer (auto: on in debug)")
TALLY_OPTION(int, leak_exitcode, "23",
             "exit status when the check at exit finds leaks (0: report them and keep the "
             "program's own status)")
TALLY_OPTION(string, suppressions, "",
             "file of leak:PATTERN lines; a leak whose allocation stack has a function or "
             "module matching a pattern is not reported")
TALLY_OPTION(bool, interior_pointers, "1",
             "a pointer into the middle of a block keeps it alive (0: only pointers to its "
             "start, for words inside heap blocks; roots may always point inside)")
TALLY_OPTION(bool, scan_program_mappings, "1",
             "the leak check also looks for pointers in memory the program mapped itself (an "
             "interpreter's arenas, a custom allocator's pools, private writable mappings of "
             "files such as the JVM's class-data archive), as Valgrind does (0: only globals, "
             "stacks and TLS, as LeakSanitizer)")
TALLY_OPTION(int, mark_threads, "0", "threads that mark (0: one per 64 MiB of resident memory, at most one per processor; at most 64)")
TALLY_OPTION(int, stop_signal, "30",
             "signal that stops the program's threads while the marker reads their stacks "
             "(30 is SIGPWR); a handler the program has for it is put back after each stop")
