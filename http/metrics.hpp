// Metrics: request counts and latency histograms by route and status, shown
// in the Prometheus text format at GET /metrics.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace ap::http {

class Metrics {
 public:
  // Records one finished request. `route` is the route pattern, e.g.
  // "/v1/agents/{id}", so that ids do not explode the label set.
  void record(const std::string& method, const std::string& route, int status, double seconds);

  // Prometheus exposition text; `gauges` are appended as "name value" lines.
  std::string render(const std::map<std::string, double>& gauges) const;

 private:
  static constexpr std::array<double, 11> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> latency_;
};

}  // namespace ap::http
