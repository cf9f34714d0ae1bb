# Every third-party dependency comes from a Debian package. A missing one stops the configure
# with the name of the package to install, instead of a wall of CMake noise.

find_package(PkgConfig QUIET)

function(spillway_missing what debian_package)
  message(FATAL_ERROR "spillway needs ${what}: install it with\n"
                      "  apt-get install ${debian_package}\n"
                      "(tools/run and tools/test install every missing package themselves)")
endfunction()

function(spillway_require_config package debian_package)
  find_package(${package} CONFIG QUIET)
  if(NOT ${package}_FOUND)
    spillway_missing(${package} ${debian_package})
  endif()
endfunction()

function(spillway_require_pkgconfig target module debian_package)
  if(NOT PKG_CONFIG_FOUND)
    spillway_missing("pkg-config" pkg-config)
  endif()
  pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${target}_FOUND)
    spillway_missing(${module} ${debian_package})
  endif()
endfunction()

spillway_require_pkgconfig(uring liburing liburing-dev)
spillway_require_pkgconfig(xxhash libxxhash libxxhash-dev)
spillway_require_config(RocksDB librocksdb-dev)
spillway_require_config(gflags libgflags-dev)
spillway_require_config(glog libgoogle-glog-dev)
spillway_require_config(benchmark libbenchmark-dev)

find_package(GTest CONFIG QUIET)
if(NOT GTest_FOUND)
  spillway_missing(GoogleTest "libgtest-dev libgmock-dev")
endif()
if(NOT TARGET GTest::gmock)
  spillway_missing(GoogleMock libgmock-dev)
endif()
