#include "otter/log.hpp"

#include "otter/log_fields.hpp"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace otter {

namespace {
std::mutex sinks_mutex;  // serialises set_log_sinks (spdlog's sink list is not thread-safe)

std::shared_ptr<spdlog::logger> make_logger() {
  // Not registered with spdlog (no spdlog::get("otter") clash with an application's logger of
  // that name, and spdlog::set_level / drop_all of the application leave ours alone).
  auto l = std::make_shared<spdlog::logger>(
      "otter", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  l->set_level(spdlog::level::info);
  return l;
}
}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> instance = make_logger();
  return instance;
}

namespace {
thread_local const std::vector<log_field>* tl_fields = nullptr;  // the innermost scope's
}  // namespace

log_fields::log_fields(std::initializer_list<log_field> fields)
    : fields_(fields), saved_(tl_fields) {
  tl_fields = &fields_;
}

log_fields::~log_fields() {
  tl_fields = saved_;
}

std::span<const log_field> current_log_fields() noexcept {
  if (tl_fields == nullptr) return {};
  return {tl_fields->data(), tl_fields->size()};
}

namespace detail {
spdlog::logger& log() {
  static spdlog::logger& instance = *otter::logger();
  return instance;
}
}  // namespace detail

void set_log_level(spdlog::level::level_enum level) {
  logger()->set_level(level);
}

void set_log_sinks(std::vector<spdlog::sink_ptr> sinks) {
  std::lock_guard<std::mutex> l(sinks_mutex);
  logger()->sinks() = std::move(sinks);
}

}  // namespace otter
