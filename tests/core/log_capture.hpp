// Captures what otter logs (the "otter" logger) while it lives, then restores the logger's
// sinks and level. Install it before starting the test's runtime (set_log_sinks' rule).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <otter/log.hpp>

namespace otter_test {

struct log_line {
  spdlog::level::level_enum level;
  std::string text;
};

class log_capture {
 public:
  explicit log_capture(spdlog::level::level_enum level = spdlog::level::info)
      : sink_(std::make_shared<sink>()),
        saved_sinks_(otter::logger()->sinks()),
        saved_level_(otter::logger()->level()) {
    otter::set_log_sinks({sink_});
    otter::set_log_level(level);
  }
  ~log_capture() {
    otter::set_log_sinks(saved_sinks_);
    otter::set_log_level(saved_level_);
  }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  std::vector<log_line> lines() const { return sink_->lines(); }
  // The lines that contain `part`.
  std::vector<log_line> containing(const std::string& part) const {
    std::vector<log_line> out;
    for (auto& l : lines()) {
      if (l.text.find(part) != std::string::npos) out.push_back(l);
    }
    return out;
  }

 private:
  class sink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<log_line> lines() {
      std::lock_guard<std::mutex> l(mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      lines_.push_back({msg.level, std::string(msg.payload.data(), msg.payload.size())});
    }
    void flush_() override {}

   private:
    std::vector<log_line> lines_;  // guarded by base_sink's mutex_
  };

  std::shared_ptr<sink> sink_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
  spdlog::level::level_enum saved_level_;
};

}  // namespace otter_test
