// The process environment, read without getenv: tally's options are needed from the first
// malloc the dynamic loader makes, before the C library has set up `environ`.
#pragma once

namespace tally {

// The value of `name` in the environment the process started with, or nullptr.
// The returned string lives as long as the process.
const char* environment_get(const char* name);

}  // namespace tally
