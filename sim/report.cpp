// The `sim run` report: for people in the terminal, and as files (an HTML
// page with SVG histograms, and JSON) for keeping beside a CI run.
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sim/runner.hpp"

namespace ap::sim {

namespace json = boost::json;

namespace {

// The value at quantile `q` (0..1) of sorted `values`.
std::int64_t quantile(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

std::vector<std::int64_t> sorted_copy(const std::vector<std::int64_t>& values) {
  std::vector<std::int64_t> out = values;
  std::sort(out.begin(), out.end());
  return out;
}

// Counts per power-of-two bucket: [0,1), [1,2), [2,4), ... ms.
std::vector<std::uint64_t> log2_buckets(const std::vector<std::int64_t>& values) {
  std::vector<std::uint64_t> buckets(1, 0);
  for (const std::int64_t v : values) {
    std::size_t b = 0;
    for (std::int64_t x = v; x > 0; x >>= 1) ++b;
    if (buckets.size() <= b) buckets.resize(b + 1, 0);
    ++buckets[b];
  }
  return buckets;
}

std::string bucket_label(std::size_t b) {
  if (b == 0) return "<1";
  return std::to_string(std::int64_t{1} << (b - 1));
}

void print_histogram(const char* title, const std::vector<std::int64_t>& values, std::FILE* out) {
  const std::vector<std::int64_t> sorted = sorted_copy(values);
  std::fprintf(out, "  %-30s n=%zu  p50=%lld  p90=%lld  p99=%lld  max=%lld ms\n", title,
               sorted.size(), static_cast<long long>(quantile(sorted, 0.5)),
               static_cast<long long>(quantile(sorted, 0.9)),
               static_cast<long long>(quantile(sorted, 0.99)),
               static_cast<long long>(sorted.empty() ? 0 : sorted.back()));
  const std::vector<std::uint64_t> buckets = log2_buckets(values);
  const std::uint64_t most = *std::max_element(buckets.begin(), buckets.end());
  if (most == 0) return;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    if (buckets[b] == 0) continue;
    const int width = static_cast<int>(buckets[b] * 40 / most);
    std::fprintf(out, "    >= %6s ms |%-40s| %llu\n", bucket_label(b).c_str(),
                 std::string(static_cast<std::size_t>(width), '#').c_str(),
                 static_cast<unsigned long long>(buckets[b]));
  }
}

std::string svg_histogram(const char* title, const std::vector<std::int64_t>& values) {
  const std::vector<std::uint64_t> buckets = log2_buckets(values);
  const std::uint64_t most =
      std::max<std::uint64_t>(1, *std::max_element(buckets.begin(), buckets.end()));
  const int bar = 28, height = 160, width = static_cast<int>(buckets.size()) * bar + 40;
  std::string svg = "<h2>" + std::string(title) +
                    " (virtual ms, n=" + std::to_string(values.size()) +
                    ")</h2>\n<svg xmlns='http://www.w3.org/2000/svg' width='" +
                    std::to_string(width) + "' height='" + std::to_string(height + 40) + "'>\n";
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    const int h = static_cast<int>(buckets[b] * height / most);
    const int x = 20 + static_cast<int>(b) * bar;
    svg += "<rect x='" + std::to_string(x) + "' y='" + std::to_string(height - h) + "' width='" +
           std::to_string(bar - 4) + "' height='" + std::to_string(h) + "' fill='#4a7ab0'><title>" +
           std::to_string(buckets[b]) + "</title></rect>\n";
    svg += "<text x='" + std::to_string(x) + "' y='" + std::to_string(height + 15) +
           "' font-size='10'>" + bucket_label(b) + "</text>\n";
  }
  return svg + "</svg>\n";
}

// `text` with the characters HTML gives meaning to escaped.
std::string html_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string reproduce_line(const RunOptions& options) {
  std::string line = "agentphone sim run --scenario " + options.scenario_path + " --seed " +
                     std::to_string(options.seed) + " --store " + options.store;
  if (options.checkpoint_every_s != RunOptions{}.checkpoint_every_s) {
    line += " --checkpoint-every-s " + std::to_string(options.checkpoint_every_s);
  }
  if (!options.rebuild_check) line += " --no-rebuild-check";
  if (!options.plant_bug.empty()) line += " --plant-bug " + options.plant_bug;
  return line;
}

json::object counts(const std::map<std::string, std::uint64_t>& map) {
  json::object out;
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

}  // namespace

void print_report(const RunReport& report, const RunOptions& options, std::FILE* out) {
  std::fprintf(out, "agentphone sim run: scenario '%s' (%s), seed %llu, store %s\n",
               options.scenario.name.c_str(), options.scenario_path.c_str(),
               static_cast<unsigned long long>(options.seed), options.store.c_str());
  std::fprintf(out, "options (ranges resolved by the seed):\n");
  for (const Knob& knob : knobs()) {
    const Range& range = knob_range(options.scenario, knob.name);
    std::fprintf(out, "  %-26s = %lld%s\n", knob.name,
                 static_cast<long long>(knob_value(report.options, knob.name)),
                 range.lo == range.hi ? ""
                                      : ("   (from [" + std::to_string(range.lo) + ", " +
                                         std::to_string(range.hi) + "])")
                                            .c_str());
  }
  std::fprintf(out, "commands:\n");
  for (const auto& [k, v] : report.commands) {
    std::fprintf(out, "  %-40s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  std::fprintf(out, "events by type:\n");
  for (const auto& [k, v] : report.events) {
    std::fprintf(out, "  %-40s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  std::fprintf(out, "faults and crashes:\n");
  for (const auto& [k, v] : report.faults) {
    std::fprintf(out, "  %-40s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  std::fprintf(out, "  %-40s %llu\n", "deliveries answered 2xx twice",
               static_cast<unsigned long long>(report.duplicate_deliveries));
  std::fprintf(out, "latency in virtual time:\n");
  print_histogram("outbound SMS queued->delivered", report.outbound_delivery_ms, out);
  print_histogram("webhook created->delivered", report.webhook_delivery_ms, out);
  if (!report.voice_turn_ms.empty()) {
    print_histogram("voice turn caller->agent", report.voice_turn_ms, out);
  }
  std::fprintf(out, "head: position %llu, hash %s\n",
               static_cast<unsigned long long>(report.head_position), report.head_hash.c_str());
  if (report.store_bytes > 0) {
    std::fprintf(out, "store: %.1f MiB of keys and values in memory\n",
                 static_cast<double>(report.store_bytes) / (1 << 20));
  }
  std::fprintf(out, "time: %.1f s virtual in %.2f s wall, %.0f events/s\n",
               static_cast<double>(report.virtual_ms) / 1000.0, report.wall_s,
               report.wall_s > 0 ? static_cast<double>(report.head_position) / report.wall_s : 0.0);
  if (report.violations.empty()) {
    std::fprintf(out, "result: OK, every invariant held (%llu restarts)\n",
                 static_cast<unsigned long long>(report.restarts));
  } else {
    std::fprintf(out, "result: VIOLATION: %s\n", report.violations.front().c_str());
    for (std::size_t i = 1; i < report.violations.size(); ++i) {
      std::fprintf(out, "  and: %s\n", report.violations[i].c_str());
    }
    if (report.first_bad_position > 0) {
      std::fprintf(out, "  first bad position: %llu\n",
                   static_cast<unsigned long long>(report.first_bad_position));
    }
  }
  std::fprintf(out, "reproduce: %s\n", reproduce_line(options).c_str());
}

std::string write_report_files(const RunReport& report, const RunOptions& options,
                               const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir + ": " + ec.message();
  json::object options_json;
  for (const auto& [k, v] : report.options) options_json[k] = v;
  json::array checkpoints;
  for (const Checkpoint& c : report.checkpoints) {
    checkpoints.push_back(
        json::object{{"atMs", c.at_ms}, {"position", c.position}, {"hash", c.hash}});
  }
  json::array violations;
  for (const std::string& v : report.violations) violations.push_back(json::string(v));
  const json::object root{{"scenario", options.scenario.name},
                          {"seed", options.seed},
                          {"store", options.store},
                          {"options", options_json},
                          {"ok", report.violations.empty()},
                          {"violations", violations},
                          {"firstBadPosition", report.first_bad_position},
                          {"headPosition", report.head_position},
                          {"headHash", report.head_hash},
                          {"restarts", report.restarts},
                          {"commands", counts(report.commands)},
                          {"events", counts(report.events)},
                          {"faults", counts(report.faults)},
                          {"duplicateDeliveries", report.duplicate_deliveries},
                          {"virtualMs", report.virtual_ms},
                          {"storeBytes", report.store_bytes},
                          {"wallSeconds", report.wall_s},
                          {"checkpoints", checkpoints},
                          {"reproduce", reproduce_line(options)}};
  std::ofstream json_file(std::filesystem::path(dir) / "report.json");
  json_file << json::serialize(root) << "\n";
  if (!json_file) return "cannot write " + dir + "/report.json";
  std::ofstream html(std::filesystem::path(dir) / "report.html");
  html << "<!doctype html><meta charset='utf-8'><title>agentphone sim run</title>\n"
       << "<h1>agentphone sim run: " << html_escape(options.scenario.name) << ", seed "
       << options.seed << "</h1>\n<p>"
       << html_escape(report.violations.empty() ? "OK: every invariant held"
                                                : "VIOLATION: " + report.violations.front())
       << "</p>\n<p>head " << report.head_position << " <code>" << report.head_hash
       << "</code></p>\n<p>reproduce: <code>" << html_escape(reproduce_line(options))
       << "</code></p>\n"
       << svg_histogram("Outbound SMS queued to delivered", report.outbound_delivery_ms)
       << svg_histogram("Webhook created to delivered", report.webhook_delivery_ms)
       << (report.voice_turn_ms.empty()
               ? std::string()
               : svg_histogram("Voice turn, caller line to agent answer", report.voice_turn_ms));
  return html ? "" : "cannot write " + dir + "/report.html";
}

int sim_run(const RunOptions& options, bool check_determinism, const std::string& report_dir) {
  // A named RocksDB folder must be empty: a run that opened an older log
  // would not be the run its seed describes. The two runs of a determinism
  // check each get a folder of their own inside it.
  if (!options.data_dir.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(options.data_dir, ec) &&
        !std::filesystem::is_empty(options.data_dir, ec)) {
      std::fprintf(stderr, "agentphone sim run: --data-dir %s is not empty\n",
                   options.data_dir.c_str());
      return 2;
    }
  }
  RunOptions first_options = options, second_options = options;
  if (check_determinism && !options.data_dir.empty()) {
    first_options.data_dir = options.data_dir + "/run-1";
    second_options.data_dir = options.data_dir + "/run-2";
  }
  const RunReport first = run_simulation(first_options);
  print_report(first, options, stdout);
  if (!report_dir.empty()) {
    if (std::string why = write_report_files(first, options, report_dir); !why.empty()) {
      std::fprintf(stderr, "agentphone sim: %s\n", why.c_str());
    }
  }
  int code = first.violations.empty() ? 0 : 1;
  if (!check_determinism) return code;
  const RunReport second = run_simulation(second_options);
  const std::size_t n = std::min(first.checkpoints.size(), second.checkpoints.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Checkpoint& a = first.checkpoints[i];
    const Checkpoint& b = second.checkpoints[i];
    if (a.at_ms == b.at_ms && a.position == b.position && a.hash == b.hash) continue;
    std::printf(
        "determinism: DIVERGED at checkpoint %zu (virtual %lld ms vs %lld ms): "
        "position %llu vs %llu, hash %s vs %s\n",
        i, static_cast<long long>(a.at_ms - options.scenario.start_ms),
        static_cast<long long>(b.at_ms - options.scenario.start_ms),
        static_cast<unsigned long long>(a.position), static_cast<unsigned long long>(b.position),
        a.hash.c_str(), b.hash.c_str());
    return 1;
  }
  if (first.checkpoints.size() != second.checkpoints.size()) {
    std::printf("determinism: DIVERGED: %zu checkpoints vs %zu\n", first.checkpoints.size(),
                second.checkpoints.size());
    return 1;
  }
  std::printf("determinism: OK, both runs agree at all %zu checkpoints (head %s)\n", n,
              first.head_hash.c_str());
  return code != 0 || !second.violations.empty() ? 1 : 0;
}

}  // namespace ap::sim
