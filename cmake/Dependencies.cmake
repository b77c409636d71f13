# Every dependency is a Debian bookworm package (scripts/install-deps.sh), found here.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)

pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
if(SKEG_WITH_IO_URING)
  pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
endif()

# Asio is header-only (standalone, libasio-dev).
add_library(skeg_asio INTERFACE)
target_compile_definitions(skeg_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(skeg_asio INTERFACE Threads::Threads)

if(SKEG_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(SKEG_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
