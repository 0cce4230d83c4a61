// Options from TALLY_OPTIONS (colon-separated key=value, like the sanitizers' options).
// Parsed once, at the first call into tally, from the environment the process started with.
// Unknown keys and bad values are reported once on stderr and otherwise ignored.
#pragma once

#include <stddef.h>

namespace tally {

enum class Mode : unsigned char { kFast, kSafe, kDebug, kGc };

struct Options {
#define TALLY_OPTION(type, name, default_value, help) TALLY_OPTION_FIELD_##type(name)
#define TALLY_OPTION_FIELD_bool(name) bool name;
#define TALLY_OPTION_FIELD_int(name) int name;
#define TALLY_OPTION_FIELD_string(name) char name[256];
#define TALLY_OPTION_FIELD_mode(name) Mode name;
#define TALLY_OPTION_FIELD_size(name) size_t name;
#define TALLY_OPTION_FIELD_tristate(name) signed char name;  // -1: auto
#include "api/option_table.h"
#undef TALLY_OPTION
};

extern Options g_options;

// Sets the defaults, then applies `text` (may be nullptr). Reports problems.
void options_parse(const char* text);
const char* mode_name(Mode mode);

}  // namespace tally
