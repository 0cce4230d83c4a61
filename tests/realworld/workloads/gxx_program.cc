// The C++ program of tests/realworld/gxx.sh: g++ compiles it at -O2 (the compiler is the
// real workload: templates, inlining, the STL headers), then it runs and prints results
// that depend only on the computation. It uses the allocator heavily itself, from several
// threads, through new/delete, the containers and std::string.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <iomanip>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <queue>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace {

// A small deterministic generator (the standard engines are fine too, but their
// distributions are not specified to be identical everywhere).
class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_ >> 33;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  std::string word() {
    std::string s;
    const auto length = 3 + below(10);
    for (std::uint64_t i = 0; i < length; ++i) s.push_back(static_cast<char>('a' + below(26)));
    return s;
  }

 private:
  std::uint64_t state_;
};

std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 1469598103934665603ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

// ---- a class hierarchy behind unique_ptr --------------------------------------------------
class Shape {
 public:
  virtual ~Shape() = default;
  virtual double area() const = 0;
  virtual std::string name() const = 0;
};

class Rect : public Shape {
 public:
  Rect(double w, double h) : w_(w), h_(h) {}
  double area() const override { return w_ * h_; }
  std::string name() const override { return "rect"; }

 private:
  double w_, h_;
};

class Circle : public Shape {
 public:
  explicit Circle(double r) : r_(r) {}
  double area() const override { return 3.0 * r_ * r_; }  // integer-friendly "pi"
  std::string name() const override { return "circle"; }

 private:
  double r_;
};

class Polygon : public Shape {
 public:
  explicit Polygon(std::vector<std::pair<long, long>> points) : points_(std::move(points)) {}
  double area() const override {
    long twice = 0;
    for (std::size_t i = 0; i < points_.size(); ++i) {
      const auto& a = points_[i];
      const auto& b = points_[(i + 1) % points_.size()];
      twice += a.first * b.second - b.first * a.second;
    }
    return std::abs(twice) / 2.0;
  }
  std::string name() const override { return "polygon" + std::to_string(points_.size()); }

 private:
  std::vector<std::pair<long, long>> points_;
};

void shapes_section() {
  Lcg rng(1);
  std::vector<std::unique_ptr<Shape>> shapes;
  for (int i = 0; i < 50000; ++i) {
    switch (rng.below(3)) {
      case 0:
        shapes.push_back(std::make_unique<Rect>(1 + rng.below(20), 1 + rng.below(20)));
        break;
      case 1:
        shapes.push_back(std::make_unique<Circle>(1 + rng.below(10)));
        break;
      default: {
        std::vector<std::pair<long, long>> points;
        const auto n = 3 + rng.below(8);
        for (std::uint64_t k = 0; k < n; ++k)
          points.emplace_back(static_cast<long>(rng.below(100)), static_cast<long>(rng.below(100)));
        shapes.push_back(std::make_unique<Polygon>(std::move(points)));
      }
    }
  }
  std::map<std::string, std::pair<int, double>> by_name;
  for (const auto& shape : shapes) {
    auto& entry = by_name[shape->name()];
    entry.first += 1;
    entry.second += shape->area();
  }
  shapes.erase(std::remove_if(shapes.begin(), shapes.end(),
                              [](const auto& s) { return s->area() < 50; }),
               shapes.end());
  std::cout << "shapes: kept " << shapes.size();
  for (const auto& [name, entry] : by_name)
    std::cout << ' ' << name << '=' << entry.first << '/' << std::fixed << std::setprecision(1)
              << entry.second;
  std::cout << '\n';
}

// ---- strings, maps and sets ---------------------------------------------------------------
void containers_section() {
  Lcg rng(2);
  std::unordered_map<std::string, int> counts;
  std::vector<std::string> words;
  for (int i = 0; i < 200000; ++i) {
    words.push_back(rng.word());
    ++counts[words.back().substr(0, 3)];
  }
  std::set<std::string> unique(words.begin(), words.end());
  std::map<std::size_t, std::vector<std::string>> by_length;
  for (const auto& w : unique) by_length[w.size()].push_back(w);
  std::sort(words.begin(), words.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  std::unordered_set<std::uint64_t> hashes;
  for (const auto& w : words) hashes.insert(fnv1a(w));
  std::vector<std::pair<int, std::string>> top;
  for (const auto& [prefix, n] : counts) top.emplace_back(-n, prefix);
  std::partial_sort(top.begin(), top.begin() + 3, top.end());
  std::string joined;
  for (std::size_t i = 0; i < words.size(); i += 1000) joined += words[i] + ",";
  std::cout << "containers: " << unique.size() << ' ' << by_length.size() << ' '
            << by_length.rbegin()->second.size() << ' ' << hashes.size() << ' ' << words.front()
            << ' ' << words.back() << ' ' << top[0].second << '=' << -top[0].first << ' '
            << fnv1a(joined) << '\n';
}

// ---- lists, deques, queues, variants and optionals -----------------------------------------
using Value = std::variant<long, std::string, std::vector<int>>;

struct Describe {
  std::string operator()(long v) const { return "L" + std::to_string(v); }
  std::string operator()(const std::string& v) const { return "S" + v; }
  std::string operator()(const std::vector<int>& v) const {
    return "V" + std::to_string(std::accumulate(v.begin(), v.end(), 0));
  }
};

std::optional<long> parse_number(const std::string& text) {
  try {
    std::size_t used = 0;
    const long value = std::stol(text, &used);
    if (used != text.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void misc_section() {
  Lcg rng(3);
  std::list<Value> values;
  for (int i = 0; i < 60000; ++i) {
    switch (rng.below(3)) {
      case 0: values.emplace_back(static_cast<long>(rng.below(1000000))); break;
      case 1: values.emplace_back(rng.word()); break;
      default: values.emplace_back(std::vector<int>(rng.below(50), static_cast<int>(rng.below(9))));
    }
  }
  values.remove_if([](const Value& v) { return v.index() == 1 && std::get<1>(v).size() < 5; });
  std::uint64_t digest = 0;
  for (const auto& v : values) digest = fnv1a(std::visit(Describe{}, v), digest);

  std::deque<int> window;
  long window_sum = 0, best = 0;
  for (int i = 0; i < 300000; ++i) {
    const int x = static_cast<int>(rng.below(1000)) - 500;
    window.push_back(x);
    window_sum += x;
    if (window.size() > 777) {
      window_sum -= window.front();
      window.pop_front();
    }
    best = std::max(best, window_sum);
  }

  std::priority_queue<std::pair<long, int>, std::vector<std::pair<long, int>>, std::greater<>> heap;
  for (int i = 0; i < 100000; ++i) heap.emplace(static_cast<long>(rng.below(1000000)), i);
  long first_five = 0;
  for (int i = 0; i < 5; ++i) {
    first_five += heap.top().first;
    heap.pop();
  }

  int parsed = 0, failed = 0;
  for (const char* text : {"42", "-17", "x1", "99999999999", "12ab", "", "7"}) {
    if (parse_number(text)) ++parsed; else ++failed;
  }
  std::cout << "misc: " << values.size() << ' ' << digest << ' ' << best << ' ' << first_five
            << ' ' << parsed << '/' << failed << '\n';
}

// ---- regex and string streams --------------------------------------------------------------
void text_section() {
  Lcg rng(4);
  std::ostringstream log;
  for (int i = 0; i < 3000; ++i)
    log << "user=" << rng.word() << " id=" << rng.below(100000) << " mail=" << rng.word() << '@'
        << rng.word() << ".org\n";
  const std::string text = log.str();
  const std::regex mail(R"(mail=([a-z]+)@([a-z]+)\.org)");
  long mails = 0;
  std::uint64_t domains = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), mail); it != std::sregex_iterator();
       ++it) {
    ++mails;
    domains = fnv1a((*it)[2].str(), domains);
  }
  const std::string replaced = std::regex_replace(text, std::regex(R"(id=(\d+))"), "ID<$1>");
  std::istringstream lines(replaced);
  std::string line;
  long long id_sum = 0;
  while (std::getline(lines, line)) {
    const auto open = line.find("ID<");
    id_sum += std::stoll(line.substr(open + 3, line.find('>', open) - open - 3));
  }
  std::cout << "text: " << text.size() << ' ' << mails << ' ' << domains << ' ' << replaced.size()
            << ' ' << id_sum << '\n';
}

// ---- threads sharing work through futures and a mutex-protected map ------------------------
void threads_section() {
  std::mutex mutex;
  std::map<int, std::uint64_t> results;
  std::atomic<long> allocations{0};
  auto work = [&](int index) {
    Lcg rng(100 + static_cast<std::uint64_t>(index));
    std::vector<std::string> local;
    std::uint64_t hash = 0;
    for (int i = 0; i < 40000; ++i) {
      local.push_back(rng.word() + std::to_string(i));
      if (local.size() > 500) {
        hash = fnv1a(local[rng.below(local.size())], hash);
        local.erase(local.begin(), local.begin() + 250);
      }
      allocations.fetch_add(1, std::memory_order_relaxed);
    }
    std::lock_guard<std::mutex> lock(mutex);
    results[index] = hash;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(work, i);
  for (auto& t : threads) t.join();
  std::vector<std::future<std::size_t>> futures;
  for (int i = 0; i < 8; ++i)
    futures.push_back(std::async(std::launch::async, [i] {
      std::vector<std::vector<int>> grid(200 + i, std::vector<int>(300, i));
      std::size_t total = 0;
      for (auto& row : grid) total += static_cast<std::size_t>(std::accumulate(row.begin(), row.end(), 0));
      return total;
    }));
  std::size_t grid_total = 0;
  for (auto& f : futures) grid_total += f.get();
  std::uint64_t combined = 0;
  for (const auto& [index, hash] : results) combined = combined * 31 + hash;
  std::cout << "threads: " << results.size() << ' ' << combined << ' ' << allocations.load() << ' '
            << grid_total << '\n';
}

// ---- a tiny expression evaluator with std::function and shared_ptr -------------------------
struct Node {
  std::function<long(long)> eval;
  std::shared_ptr<Node> left, right;
};

std::shared_ptr<Node> build(Lcg& rng, int depth) {
  auto node = std::make_shared<Node>();
  if (depth == 0) {
    const long k = static_cast<long>(rng.below(10));
    node->eval = [k](long x) { return x + k; };
    return node;
  }
  node->left = build(rng, depth - 1);
  node->right = build(rng, depth - 1);
  std::weak_ptr<Node> weak = node;
  const bool multiply = rng.below(2) == 0;
  node->eval = [weak, multiply](long x) {
    auto self = weak.lock();
    const long a = self->left->eval(x), b = self->right->eval(x);
    return multiply ? (a * b) % 1000003 : (a + b) % 1000003;
  };
  return node;
}

void functional_section() {
  Lcg rng(5);
  long total = 0;
  for (int tree = 0; tree < 20; ++tree) {
    auto root = build(rng, 10);
    for (long x = 0; x < 5; ++x) total = (total * 7 + root->eval(x)) % 1000000007;
  }
  std::array<int, 10> digits{};
  std::iota(digits.begin(), digits.end(), 0);
  long permutations = 0;
  do {
    if (digits[0] < digits[9]) ++permutations;
  } while (std::next_permutation(digits.begin(), digits.begin() + 8));
  std::cout << "functional: " << total << ' ' << permutations << '\n';
}

}  // namespace

int main() {
  shapes_section();
  containers_section();
  misc_section();
  text_section();
  threads_section();
  functional_section();
  std::cout << "done" << std::endl;
  return 0;
}
