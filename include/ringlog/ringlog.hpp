// Everything in ringlog's public API.
#pragma once

#include <ringlog/dispatcher.hpp>
#include <ringlog/event.hpp>
#include <ringlog/journal.hpp>
#include <ringlog/journal_consumer.hpp>
#include <ringlog/publisher.hpp>
#include <ringlog/ring.hpp>
#include <ringlog/shared_ring.hpp>
#include <ringlog/log_file.hpp>
