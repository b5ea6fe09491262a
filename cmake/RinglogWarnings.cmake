# Warnings are errors nowhere but stay at zero: CI builds print them.
function(ringlog_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    -Wimplicit-fallthrough -Wcast-align -Wnull-dereference)
endfunction()
