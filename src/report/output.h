// Output that never allocates: a fixed buffer formatter and the sink that reports and
// statistics go to (stderr, or `log_path.PID` when the option is set).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tally {

class Formatter {
 public:
  Formatter(char* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}
  Formatter& text(const char* text);
  Formatter& text(const char* text, size_t length);
  Formatter& character(char c);
  Formatter& decimal(uint64_t value);
  Formatter& signed_decimal(int64_t value);
  Formatter& hex(uint64_t value);                     // 0x-prefixed
  Formatter& padded(uint64_t value, unsigned width);  // right-aligned decimal
  Formatter& bytes(uint64_t value);                   // human scale: 12.3 MiB
  const char* data() const { return buffer_; }
  size_t length() const { return length_; }
  void clear() { length_ = 0; }

 private:
  char* buffer_;
  size_t capacity_;
  size_t length_ = 0;
};

// Configures the sink from the log_path option (called once options are parsed).
void output_set_log_path(const char* log_path);
// Asks for a copy of stderr for reports written after the program closed it (its exit
// handlers may, before the leak check at exit runs); taken when it closes it.
void output_keep_stderr_copy();
// Descriptor 2 is about to be closed (close or fclose): the copy is taken now, if wanted.
void output_stderr_closing();
// Writes to the sink. After a fork, a log file is reopened under the child's pid.
void output_write(const char* data, size_t length);
// Writes one JSON line to log_path.PID.json; nothing when log_path is not set.
void output_write_json(const char* data, size_t length);
inline void output_write(const Formatter& formatter) {
  output_write(formatter.data(), formatter.length());
}

}  // namespace tally
