// The dispatcher and its consumers moved to <ringlog/dispatcher.hpp>, the name of what the
// header holds; this name stays for the code written against it (../shared/API.md).
#pragma once

#include <ringlog/dispatcher.hpp>
