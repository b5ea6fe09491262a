#include <ringlog/error.hpp>

#include <ostream>

// ringlog::Error: the one way every module of the library, and the programs built on it, report
// a set-up error. A root module: it depends on nothing of the library.
namespace ringlog {

namespace {

class SetupCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringlog.setup"; }
  std::string message(int value) const override {
    switch (static_cast<SetupErrc>(value)) {
      case SetupErrc::unusable_cpus: return "CPUs that cannot be used as asked";
      case SetupErrc::service_unreachable: return "no ringlog service answers";
      case SetupErrc::service_refused: return "the ringlog service refused";
      case SetupErrc::journal_failed: return "the journal stopped taking events";
      case SetupErrc::ring_unusable: return "a ring that cannot be used";
      case SetupErrc::stream_unavailable: return "the NATS stream cannot be used";
      case SetupErrc::invalid_setting: return "an invalid setting";
    }
    return "unknown ringlog set-up error";
  }
};

}  // namespace

const std::error_category& setup_category() noexcept {
  static const SetupCategory category;
  return category;
}

std::error_code make_error_code(SetupErrc value) noexcept {
  return {static_cast<int>(value), setup_category()};
}

std::string Error::message() const {
  if (code.category() == setup_category()) return context;
  return context + ": " + code.message();
}

Error Error::from_os(int error_number, std::string context) {
  return Error{std::error_code(error_number, std::system_category()), std::move(context)};
}

Error Error::because(SetupErrc reason, std::string context) {
  return Error{make_error_code(reason), std::move(context)};
}

std::ostream& operator<<(std::ostream& out, const Error& error) { return out << error.message(); }

}  // namespace ringlog
