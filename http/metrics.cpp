#include "http/metrics.hpp"

#include <cstdio>

namespace ap::http {

void Metrics::record(const std::string& method, const std::string& route, int status,
                     double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{method, route, status}];
  Histogram& h = latency_[{method, route}];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render(const std::map<std::string, double>& gauges) const {
  std::string out;
  char line[512];
  std::lock_guard<std::mutex> lock(mu_);
  out += "# HELP agentphone_http_requests_total HTTP requests by method, route and status.\n";
  out += "# TYPE agentphone_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [method, route, status] = key;
    std::snprintf(line, sizeof line,
                  "agentphone_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                  method.c_str(), route.c_str(), status, static_cast<unsigned long long>(count));
    out += line;
  }
  out += "# HELP agentphone_http_request_duration_seconds Time from request parsed to reply.\n";
  out += "# TYPE agentphone_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : latency_) {
    const auto& [method, route] = key;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(line, sizeof line,
                    "agentphone_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                    "le=\"%g\"} %llu\n",
                    method.c_str(), route.c_str(), kBuckets[i],
                    static_cast<unsigned long long>(h.counts[i]));
      out += line;
    }
    std::snprintf(line, sizeof line,
                  "agentphone_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                  "le=\"+Inf\"} %llu\n"
                  "agentphone_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
                  "agentphone_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} "
                  "%llu\n",
                  method.c_str(), route.c_str(), static_cast<unsigned long long>(h.count),
                  method.c_str(), route.c_str(), h.sum, method.c_str(), route.c_str(),
                  static_cast<unsigned long long>(h.count));
    out += line;
  }
  for (const auto& [name, value] : gauges) {
    std::snprintf(line, sizeof line, "# TYPE %s gauge\n%s %.0f\n", name.c_str(), name.c_str(),
                  value);
    out += line;
  }
  return out;
}

}  // namespace ap::http
