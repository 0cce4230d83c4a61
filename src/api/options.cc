// Parsing of TALLY_OPTIONS into g_options, driven by option_table.h. Never allocates.
#include "api/options.h"

#include <limits.h>
#include <signal.h>
#include <string.h>

#include "report/error_report.h"
#include "report/output.h"
#include "report/stack_recorder.h"

namespace tally {

Options g_options;

namespace {

bool equals(const char* text, size_t length, const char* word) {
  return strlen(word) == length && memcmp(text, word, length) == 0;
}

bool parse_bool(const char* text, size_t length, bool* out) {
  if (equals(text, length, "1") || equals(text, length, "true") || equals(text, length, "yes")) {
    *out = true;
    return true;
  }
  if (equals(text, length, "0") || equals(text, length, "false") || equals(text, length, "no")) {
    *out = false;
    return true;
  }
  return false;
}

bool parse_int(const char* text, size_t length, int* out) {
  if (length == 0 || length > 10) return false;
  bool negative = text[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i == length) return false;
  long value = 0;
  for (; i < length; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  if (value > INT_MAX) return false;  // ten digits can say more than an int holds
  *out = static_cast<int>(negative ? -value : value);
  return true;
}

bool parse_size(const char* text, size_t length, size_t* out) {
  if (length == 0) return false;
  size_t multiplier = 1;
  char last = text[length - 1];
  if (last == 'k' || last == 'K') multiplier = size_t{1} << 10;
  if (last == 'm' || last == 'M') multiplier = size_t{1} << 20;
  if (last == 'g' || last == 'G') multiplier = size_t{1} << 30;
  if (multiplier != 1) --length;
  if (length == 0 || length > 12) return false;
  size_t value = 0;
  for (size_t i = 0; i < length; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + static_cast<size_t>(text[i] - '0');
  }
  *out = value * multiplier;
  return true;
}

bool parse_tristate(const char* text, size_t length, signed char* out) {
  if (equals(text, length, "auto")) {
    *out = -1;
    return true;
  }
  bool value;
  if (!parse_bool(text, length, &value)) return false;
  *out = value ? 1 : 0;
  return true;
}

bool parse_string(const char* text, size_t length, char (&out)[256]) {
  if (length >= sizeof out) return false;
  memcpy(out, text, length);
  out[length] = '\0';
  return true;
}

bool parse_mode(const char* text, size_t length, Mode* out) {
  static const Mode kModes[] = {Mode::kFast, Mode::kSafe, Mode::kDebug, Mode::kGc};
  for (Mode mode : kModes) {
    if (equals(text, length, mode_name(mode))) {
      *out = mode;
      return true;
    }
  }
  return false;
}

bool apply(const char* key, size_t key_length, const char* value, size_t value_length,
           bool* known) {
  *known = true;
#define TALLY_OPTION(type, name, default_value, help) \
  if (equals(key, key_length, #name)) return TALLY_OPTION_PARSE_##type(name);
#define TALLY_OPTION_PARSE_bool(name) parse_bool(value, value_length, &g_options.name)
#define TALLY_OPTION_PARSE_int(name) parse_int(value, value_length, &g_options.name)
#define TALLY_OPTION_PARSE_string(name) parse_string(value, value_length, g_options.name)
#define TALLY_OPTION_PARSE_mode(name) parse_mode(value, value_length, &g_options.name)
#define TALLY_OPTION_PARSE_size(name) parse_size(value, value_length, &g_options.name)
#define TALLY_OPTION_PARSE_tristate(name) parse_tristate(value, value_length, &g_options.name)
#include "api/option_table.h"
#undef TALLY_OPTION
  *known = false;
  return false;
}

// Sets the default of option `only`, or of every option when it is null.
void set_defaults(const char* only = nullptr) {
  bool known;
#define TALLY_OPTION(type, name, default_value, help) \
  if (!only || strcmp(only, #name) == 0)              \
    apply(#name, strlen(#name), default_value, strlen(default_value), &known);
#include "api/option_table.h"
#undef TALLY_OPTION
}

// The ranges of the int options whose meaning has one (the exit statuses take any int,
// as exit() does). A value outside is reported and the default stays: a negative
// sample_rate or stack_depth used to pass as a huge or clamped one without a word.
struct IntRange {
  const char* name;
  int* value;
  int low;
  int high;
  const char* meaning;
};

void check_int_ranges() {
  const IntRange ranges[] = {
      {"verbosity", &g_options.verbosity, 0, INT_MAX, "at least 0"},
      {"sample_rate", &g_options.sample_rate, 0, INT_MAX, "at least 0"},
      {"guard_rate", &g_options.guard_rate, 0, INT_MAX, "at least 0"},
      {"guard_time_percent", &g_options.guard_time_percent, 0, 100, "0 to 100"},
      {"guard_pool_size", &g_options.guard_pool_size, 0, INT_MAX, "at least 0"},
      {"stack_depth", &g_options.stack_depth, 1, kMaxStackDepth, "1 to 64"},
      {"mark_threads", &g_options.mark_threads, 0, 64, "0 to 64"},
      {"stop_signal", &g_options.stop_signal, 1, 64, "a signal number from 1 to 64"},
  };
  for (const IntRange& range : ranges) {
    int value = *range.value;
    // SIGKILL and SIGSTOP cannot be caught, so they would stop no thread.
    bool uncatchable =
        range.value == &g_options.stop_signal && (value == SIGKILL || value == SIGSTOP);
    if (value >= range.low && value <= range.high && !uncatchable) continue;
    char message[128];
    Formatter explanation(message, sizeof message);
    explanation.text("bad value in TALLY_OPTIONS (")
        .text(range.name)
        .text(" is ")
        .text(range.meaning);
    explanation.text(uncatchable ? ", and not SIGKILL or SIGSTOP)" : ")");
    message[explanation.length() < sizeof message ? explanation.length() : sizeof message - 1] =
        '\0';
    char given[96];
    Formatter option(given, sizeof given);
    option.text(range.name).character('=');
    if (value < 0) option.character('-');
    option.decimal(value < 0 ? uint64_t{0} - static_cast<uint64_t>(static_cast<int64_t>(value))
                             : static_cast<uint64_t>(value));
    report_option_problem(message, given, option.length());
    set_defaults(range.name);
  }
}

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kFast:
      return "fast";
    case Mode::kSafe:
      return "safe";
    case Mode::kDebug:
      return "debug";
    case Mode::kGc:
      return "gc";
  }
  return "fast";
}

void options_parse(const char* text) {
  set_defaults();
  if (!text) return;
  const char* cursor = text;
  while (*cursor) {
    const char* end = cursor;
    while (*end && *end != ':' && *end != ',') ++end;
    if (end > cursor) {
      const char* equals_sign = static_cast<const char*>(memchr(cursor, '=', end - cursor));
      if (!equals_sign) {
        report_option_problem("option without a value in TALLY_OPTIONS", cursor, end - cursor);
      } else {
        bool known;
        size_t key_length = equals_sign - cursor;
        if (!apply(cursor, key_length, equals_sign + 1, end - equals_sign - 1, &known)) {
          report_option_problem(
              known ? "bad value in TALLY_OPTIONS" : "unknown option in TALLY_OPTIONS", cursor,
              end - cursor);
        }
      }
    }
    cursor = *end ? end + 1 : end;
  }
  if (g_options.mode == Mode::kGc) {
    report_option_problem("mode=gc is not available yet; running in safe mode", nullptr, 0);
    g_options.mode = Mode::kSafe;
  }
  check_int_ranges();
  int alignment = g_options.guard_alignment;
  if (alignment < 0 || alignment > 16 || (alignment & (alignment - 1)) != 0) {
    report_option_problem("bad value in TALLY_OPTIONS (guard_alignment is 0, 1, 2, 4, 8 or 16)",
                          nullptr, 0);
    g_options.guard_alignment = 0;
  }
  if (strcmp(g_options.guard_side, "right") != 0 && strcmp(g_options.guard_side, "left") != 0) {
    report_option_problem("bad value in TALLY_OPTIONS (guard_side is right or left)",
                          g_options.guard_side, strlen(g_options.guard_side));
    strcpy(g_options.guard_side, "right");
  }
}

}  // namespace tally
