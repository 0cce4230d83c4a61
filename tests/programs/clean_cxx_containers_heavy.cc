// Clean: C++ containers under heavy use: vectors growing and shrinking (shrink_to_fit),
// strings appended past their small-string buffer, maps and unordered maps with erase
// while iterating correctly, deques, lists, shared_ptr cycles broken with weak_ptr,
// std::function captures, move semantics. Every growth frees an old buffer, every
// iterator is refreshed after it: nothing may be reported in any mode.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
// TALLY-TIMEOUT: 180
#include <algorithm>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tally_test.h"

namespace {

TT_NOINLINE void vectors(unsigned seed) {
  std::vector<std::vector<int>> rows;
  for (int i = 0; i < 300; ++i) {
    rows.emplace_back();
    for (int j = 0; j < (i * 7 + static_cast<int>(seed)) % 200; ++j) rows.back().push_back(i + j);
  }
  for (auto it = rows.begin(); it != rows.end();) {
    if (it->size() % 3 == 0) {
      it = rows.erase(it);  // refreshed iterator
    } else {
      it->shrink_to_fit();
      ++it;
    }
  }
  std::sort(rows.begin(), rows.end(), [](const std::vector<int>& a, const std::vector<int>& b) {
    return a.size() < b.size();
  });
  for (const auto& row : rows)
    for (size_t j = 0; j < row.size(); ++j) TT_CHECK(row[j] == row[0] + static_cast<int>(j));
}

TT_NOINLINE void strings() {
  std::vector<std::string> words;
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    std::string word = "w" + std::to_string(i * 7919 % 10007);
    text += word;
    text += ' ';
    words.push_back(std::move(word));
  }
  size_t position = 0;
  size_t count = 0;
  while ((position = text.find(' ', position)) != std::string::npos) {
    ++position;
    ++count;
  }
  TT_CHECK(count == words.size());
  std::string reversed(text.rbegin(), text.rend());
  TT_CHECK(reversed.size() == text.size());
  text.clear();
  text.shrink_to_fit();
}

TT_NOINLINE void maps() {
  std::map<std::string, std::vector<int>> index;
  std::unordered_map<int, std::string> names;
  for (int i = 0; i < 20000; ++i) {
    index["key" + std::to_string(i % 997)].push_back(i);
    names[i] = std::string(static_cast<size_t>(i % 40), 'n');
  }
  for (auto it = names.begin(); it != names.end();) {
    if (it->first % 2 == 0)
      it = names.erase(it);
    else
      ++it;
  }
  names.rehash(0);
  TT_CHECK(names.size() == 10000);
  for (auto it = index.begin(); it != index.end();) {
    if (it->second.size() > 20)
      it = index.erase(it);
    else
      ++it;
  }
}

struct Node {
  int value = 0;
  std::shared_ptr<Node> next;
  std::weak_ptr<Node> previous;
};

TT_NOINLINE void shared_pointers() {
  std::shared_ptr<Node> head = std::make_shared<Node>();
  std::shared_ptr<Node> tail = head;
  for (int i = 1; i < 10000; ++i) {
    auto node = std::make_shared<Node>();
    node->value = i;
    node->previous = tail;
    tail->next = node;
    tail = node;
  }
  int count = 0;
  for (auto node = head; node; node = node->next) ++count;
  TT_CHECK(count == 10000);
  // Unlink iteratively so that destruction is not 10000 frames deep.
  while (head) head = std::move(head->next);
  tail.reset();
}

TT_NOINLINE void sequences_and_functions() {
  std::deque<std::string> queue;
  std::list<std::vector<char>> chunks;
  std::vector<std::function<size_t()>> tasks;
  for (int i = 0; i < 20000; ++i) {
    queue.push_back(std::string(static_cast<size_t>(i % 64), 'q'));
    if (queue.size() > 100) queue.pop_front();
    chunks.emplace_back(static_cast<size_t>(i % 300), 'c');
    if (chunks.size() > 50) chunks.pop_front();
    std::string captured = queue.back();
    tasks.emplace_back([captured]() { return captured.size(); });
    if (tasks.size() > 200) tasks.erase(tasks.begin(), tasks.begin() + 100);
  }
  size_t total = 0;
  for (auto& task : tasks) total += task();
  TT_CHECK(total > 0);
}

}  // namespace

int main() {
  for (unsigned seed = 0; seed < 5; ++seed) vectors(seed);
  strings();
  maps();
  shared_pointers();
  sequences_and_functions();
  return 0;
}
