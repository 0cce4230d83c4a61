// Input for the `gxx` real-program workload of bench/run.py: the compiler run (g++ -O2 -c)
// is what is measured, so this file only has to be ordinary, template-heavy C++ that
// makes the compiler allocate. It is compiled, never run. -DBENCH_QUICK (for --quick runs)
// drops everything from namespace text on.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace inventory {

struct Item {
  std::string name;
  std::string category;
  int quantity = 0;
  double price = 0.0;
  std::vector<std::string> tags;
};

class Store {
 public:
  void add(Item item) {
    by_category_[item.category].push_back(items_.size());
    items_.push_back(std::move(item));
  }
  double value_of(const std::string& category) const {
    auto it = by_category_.find(category);
    if (it == by_category_.end()) return 0.0;
    double total = 0.0;
    for (size_t index : it->second) total += items_[index].price * items_[index].quantity;
    return total;
  }
  template <typename Less>
  std::vector<Item> sorted_by(Less less) const {
    std::vector<Item> copy = items_;
    std::stable_sort(copy.begin(), copy.end(), less);
    return copy;
  }
  std::map<std::string, int> tag_histogram() const {
    std::map<std::string, int> histogram;
    for (const auto& item : items_)
      for (const auto& tag : item.tags) ++histogram[tag];
    return histogram;
  }
  std::string report() const {
    std::string out;
    for (const auto& [category, indices] : by_category_) {
      out += category + ": " + std::to_string(indices.size()) + " items, value " +
             std::to_string(value_of(category)) + '\n';
    }
    return out;
  }

 private:
  std::vector<Item> items_;
  std::map<std::string, std::vector<size_t>> by_category_;
};

}  // namespace inventory

namespace graph {

template <typename Node, typename Weight>
class Graph {
 public:
  void connect(const Node& a, const Node& b, Weight w) {
    edges_[a].emplace_back(b, w);
    edges_[b].emplace_back(a, w);
  }
  std::map<Node, Weight> shortest_from(const Node& source) const {
    std::map<Node, Weight> distance;
    std::set<std::pair<Weight, Node>> frontier;
    distance[source] = Weight{};
    frontier.insert({Weight{}, source});
    while (!frontier.empty()) {
      auto [d, node] = *frontier.begin();
      frontier.erase(frontier.begin());
      auto it = edges_.find(node);
      if (it == edges_.end()) continue;
      for (const auto& [next, w] : it->second) {
        auto found = distance.find(next);
        if (found == distance.end() || d + w < found->second) {
          if (found != distance.end()) frontier.erase({found->second, next});
          distance[next] = d + w;
          frontier.insert({d + w, next});
        }
      }
    }
    return distance;
  }
  std::vector<Node> nodes() const {
    std::vector<Node> result;
    for (const auto& entry : edges_) result.push_back(entry.first);
    std::sort(result.begin(), result.end());
    return result;
  }

 private:
  std::map<Node, std::vector<std::pair<Node, Weight>>> edges_;
};

template class Graph<int, int>;

}  // namespace graph

#ifndef BENCH_QUICK
namespace text {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

std::map<std::string, size_t> word_counts(const std::vector<std::string>& lines) {
  std::map<std::string, size_t> counts;
  for (const auto& line : lines)
    for (const auto& word : split(line, ' ')) ++counts[word];
  return counts;
}

std::vector<std::pair<std::string, size_t>> top_words(const std::vector<std::string>& lines,
                                                      size_t n) {
  auto counts = word_counts(lines);
  std::vector<std::pair<std::string, size_t>> sorted(counts.begin(), counts.end());
  std::partial_sort(sorted.begin(), sorted.begin() + std::min(n, sorted.size()), sorted.end(),
                    [](const auto& a, const auto& b) {
                      return a.second != b.second ? a.second > b.second : a.first < b.first;
                    });
  sorted.resize(std::min(n, sorted.size()));
  return sorted;
}

}  // namespace text

namespace matrix {

template <typename T, size_t N>
struct Matrix {
  std::vector<T> cells = std::vector<T>(N * N);
  T& at(size_t r, size_t c) { return cells[r * N + c]; }
  const T& at(size_t r, size_t c) const { return cells[r * N + c]; }
  Matrix operator*(const Matrix& other) const {
    Matrix result;
    for (size_t i = 0; i < N; ++i)
      for (size_t k = 0; k < N; ++k)
        for (size_t j = 0; j < N; ++j) result.at(i, j) += at(i, k) * other.at(k, j);
    return result;
  }
  T trace() const {
    T sum{};
    for (size_t i = 0; i < N; ++i) sum += at(i, i);
    return sum;
  }
};

template struct Matrix<double, 4>;
template struct Matrix<long, 3>;

}  // namespace matrix

namespace events {

struct Event {
  uint64_t time;
  std::string kind;
  std::map<std::string, std::string> fields;
};

class Log {
 public:
  void record(Event e) { events_.push_back(std::move(e)); }
  std::map<std::string, std::vector<uint64_t>> times_by_kind() const {
    std::map<std::string, std::vector<uint64_t>> result;
    for (const auto& e : events_) result[e.kind].push_back(e.time);
    for (auto& entry : result) std::sort(entry.second.begin(), entry.second.end());
    return result;
  }
  std::vector<Event> between(uint64_t from, uint64_t to) const {
    std::vector<Event> result;
    std::copy_if(events_.begin(), events_.end(), std::back_inserter(result),
                 [&](const Event& e) { return e.time >= from && e.time < to; });
    return result;
  }
  std::set<std::string> field_names() const {
    std::set<std::string> names;
    for (const auto& e : events_)
      for (const auto& f : e.fields) names.insert(f.first);
    return names;
  }
  uint64_t total_time() const {
    return std::accumulate(events_.begin(), events_.end(), uint64_t{0},
                           [](uint64_t sum, const Event& e) { return sum + e.time; });
  }

 private:
  std::vector<Event> events_;
};

}  // namespace events

#endif

int compile_me_entry(int argc) {
  inventory::Store store;
  for (int i = 0; i < argc; ++i)
    store.add({"item" + std::to_string(i), "cat" + std::to_string(i % 3), i, 1.5 * i, {"a", "b"}});
  graph::Graph<int, int> g;
  g.connect(1, 2, 3);
  size_t total = g.shortest_from(1).size() + store.tag_histogram().size();
#ifndef BENCH_QUICK
  auto lines = text::split(store.report(), '\n');
  total += lines.size() + text::top_words(lines, 3).size();
#endif
  return static_cast<int>(total);
}
