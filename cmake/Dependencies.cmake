# Finds every third-party dependency once and exposes it as an imported target.
# All of them come from Debian 12 packages (see scripts/install-deps.sh).

find_package(Threads REQUIRED)
find_package(RocksDB 7.8 CONFIG REQUIRED)
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS json)
find_package(simdjson 3.0 CONFIG REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(date 3.0 CONFIG REQUIRED)

# The server, the simulator and the HTTP ceiling allocate through mimalloc:
# measured here, glibc's malloc and free took about a quarter of the
# simulator's time (bench/sim_bench.sh, docs/performance.md). Linking the
# shared library is enough for it to replace malloc and free in the whole
# process. Sanitized and fuzz builds keep the sanitizers' allocator.
set(AP_ALLOCATOR "")
if(NOT AP_SANITIZE AND NOT AP_FUZZ)
  find_package(mimalloc 2.0 CONFIG REQUIRED)
  set(AP_ALLOCATOR mimalloc)
endif()

if(TARGET RocksDB::rocksdb-shared)
  set(AP_ROCKSDB RocksDB::rocksdb-shared)
else()
  set(AP_ROCKSDB RocksDB::rocksdb)
endif()

# CAF 0.17 ships neither a CMake config nor a pkg-config file, so the imported
# targets are assembled by hand from the installed header and library.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
if(NOT TARGET CAF::core)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
