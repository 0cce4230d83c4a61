// Start-up, fork and exit handling of the runtime.
#pragma once

namespace tally {

// Parses options and sets up the registry; idempotent, safe from the loader's first malloc.
void runtime_ensure_initialized();

struct LeakCheckSettings;
// Whether the options ask for the leak check at exit, and the check's settings from them.
bool runtime_leak_check_at_exit();
LeakCheckSettings runtime_leak_check_settings();

// Fork handlers: every allocator lock, taken in one fixed order, released or reset.
void runtime_before_fork();
void runtime_after_fork_in_parent();
void runtime_after_fork_in_child();

}  // namespace tally
