// Clean: ordinary C++ container use (vector, string, map, unordered_map, list, deque,
// shared_ptr/weak_ptr/unique_ptr), single-threaded and from several threads at once.
// TALLY-EXPECT-KIND: none
// TALLY-EXPECT-STATUS: 0
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tally_test.h"

namespace {

struct Document {
  std::string title;
  std::vector<std::string> lines;
};

TT_NOINLINE long exercise(int seed) {
  std::vector<std::string> words;
  for (int i = 0; i < 2000; ++i) {
    words.push_back("word-" + std::to_string(seed) + "-" + std::to_string(i) +
                    std::string(static_cast<size_t>(i % 50), 'x'));
  }
  std::map<int, std::string> by_index;
  std::unordered_map<std::string, std::vector<int>> positions;
  for (int i = 0; i < static_cast<int>(words.size()); ++i) {
    by_index[i] = words[static_cast<size_t>(i)];
    positions[words[static_cast<size_t>(i)].substr(0, 8)].push_back(i);
  }
  std::list<std::string> recent;
  std::deque<int> queue;
  for (int i = 0; i < 5000; ++i) {
    recent.push_front(std::to_string(i));
    if (recent.size() > 100) recent.pop_back();
    queue.push_back(i);
    if (queue.size() > 300) queue.pop_front();
  }

  std::vector<std::shared_ptr<Document>> shared;
  std::vector<std::weak_ptr<Document>> observers;
  for (int i = 0; i < 200; ++i) {
    auto document = std::make_shared<Document>();
    document->title = "doc " + std::to_string(i);
    document->lines.assign(static_cast<size_t>(i % 17), document->title);
    observers.push_back(document);
    if (i % 3 != 0) shared.push_back(document);
  }
  long alive = 0;
  for (auto& observer : observers) alive += observer.expired() ? 0 : 1;
  TT_CHECK(alive == static_cast<long>(shared.size()));

  std::shared_ptr<int> custom(new int(seed), [](int* value) { delete value; });
  std::unique_ptr<char[]> raw(new char[4096]());
  std::unique_ptr<Document> owned = std::make_unique<Document>();
  owned->lines.resize(64, "line");

  std::string grown;
  for (int i = 0; i < 10000; ++i) grown += static_cast<char>('a' + i % 26);
  words.clear();
  words.shrink_to_fit();

  TT_CHECK(by_index.size() == 2000);
  TT_CHECK(recent.size() == 100);
  TT_CHECK(grown.size() == 10000);
  return alive + static_cast<long>(positions.size()) + *custom + raw[0];
}

}  // namespace

int main() {
  long total = exercise(0);
  std::vector<std::thread> threads;
  std::vector<long> results(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &results] { results[static_cast<size_t>(t)] = exercise(t + 1); });
  }
  for (auto& thread : threads) thread.join();
  for (long result : results) TT_CHECK(result > 0);
  return total > 0 ? 0 : 2;
}
