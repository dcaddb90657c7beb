// Deadlines for reading a streamed request body: no pause longer than `timeout`, and the whole body
// within `timeout` plus one second per `min_rate` bytes received. A client dripping a byte a second
// is cut off after about `timeout`; a real upload at min_rate or faster never is.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace sandgate::http {

template <class TimePoint>
TimePoint BodyDeadline(TimePoint started, TimePoint now, std::chrono::seconds timeout,
                       uint64_t received, uint64_t min_rate) {
  TimePoint deadline = now + timeout;
  if (min_rate > 0)
    deadline =
        std::min(deadline, started + timeout +
                               std::chrono::seconds(static_cast<int64_t>(received / min_rate)));
  return deadline;
}

}  // namespace sandgate::http
