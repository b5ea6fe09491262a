#include <ringlog/detail/mapping.hpp>

#include <sys/mman.h>

namespace ringlog::detail {

Mapping::~Mapping() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace ringlog::detail
