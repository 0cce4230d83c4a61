// Double delete (C++), reported with the block's history: an editor and a preview pane
// both think they own the document and both delete it when they close.
// TALLY-EXPECT-KIND: attempting double-free
// TALLY-EXPECT-STATUS: 1
// TALLY-EXPECT-THREAD: T0
// TALLY-EXPECT-REGEX: is located 0 bytes inside of \d+-byte region
// TALLY-EXPECT-ACCESS-FRAME: close_preview
// TALLY-EXPECT-FREE-FRAME: close_editor
// TALLY-EXPECT-ALLOC-FRAME: open_document
#include <cstring>

#include "tally_test.h"

namespace {

// Trivially destructible: the second delete goes straight to operator delete.
struct Document {
  char title[48];
  long revision;
  long length;
};

TT_NOINLINE Document* open_document(const char* title) {
  Document* document = new Document();
  std::strncpy(document->title, title, sizeof(document->title) - 1);
  document->revision = 1;
  return document;
}

TT_NOINLINE void close_editor(Document* document) {
  delete document;
}

TT_NOINLINE void close_preview(Document* document) {
  delete document;
}

}  // namespace

int main() {
  Document* document = open_document("quarterly-report.md");
  Document* previewed = document;  // the preview pane's copy of the pointer
  close_editor(document);
  tt_note_bad_free(previewed, previewed, sizeof(Document));
  close_preview(previewed);
  tt_survived();
  return 0;
}
