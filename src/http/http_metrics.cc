#include "http/http_metrics.h"

namespace sandgate::http {

std::string RouteTemplate(const Route& r) {
  std::string t;
  for (const auto& s : r.segments) t += "/" + s;
  return t.empty() ? "/" : t;
}

HttpMetrics::HttpMetrics(const Router& router) {
  auto& reg = metrics::Global();
  const auto& routes = router.routes();
  first_ = routes.empty() ? nullptr : &routes[0];
  auto make = [&](const std::string& route, const std::string& method) {
    Slot s{};
    const char* classes[6] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
    for (int i = 0; i < 6; ++i)
      s.by_class[i] =
          &reg.GetCounter("sandgate_http_requests_total",
                          "HTTP requests answered, by route template, method and status class.",
                          {{"route", route}, {"method", method}, {"code", classes[i]}});
    s.duration = &reg.GetHistogram(
        "sandgate_http_request_duration_seconds",
        "Time from the request header to the response written, by route template and method.",
        metrics::DurationBuckets(), {{"route", route}, {"method", method}});
    return s;
  };
  for (const auto& r : routes)
    slots_.push_back(make(RouteTemplate(r), std::string(bhttp::to_string(r.method))));
  slots_.push_back(make("none", "none"));
}

void HttpMetrics::Observe(const Route* route, int status, double seconds) {
  size_t i = slots_.size() - 1;
  if (route != nullptr && first_ != nullptr) {
    const auto k = static_cast<size_t>(route - first_);
    if (k < slots_.size() - 1) i = k;
  }
  const int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
  slots_[i].by_class[cls]->Inc();
  slots_[i].duration->Observe(seconds);
}

}  // namespace sandgate::http
