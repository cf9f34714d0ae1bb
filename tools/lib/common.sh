# Shared by tools/run and tools/test: install missing Debian packages, configure and build.
# Sourced, not executed.

# What building spillway needs.
SPILLWAY_BUILD_PACKAGES=(
  cmake make g++ pkg-config
  liburing-dev libxxhash-dev librocksdb-dev libgflags-dev libgoogle-glog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# What the tests need beyond that: clang for the sanitizer and fuzz build, and the real
# memcached, clients and proxy that the conformance and cluster tests talk to.
SPILLWAY_TEST_PACKAGES=(
  clang libclang-rt-14-dev
  memcached python3 python3-pymemcache libmemcached-tools libmemcached-dev
  libcache-memcached-perl nutcracker netcat-openbsd
)

spillway_log() { printf '==> %s\n' "$*" >&2; }

# Installs the named packages that are not installed yet; does nothing when all are.
spillway_ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  spillway_log "installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "not root and no sudo: install ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

spillway_jobs() { nproc 2>/dev/null || echo 2; }

# spillway_build DIR [cmake args...]: configure (if needed) and build everything in DIR.
spillway_build() {
  local dir=$1
  shift
  spillway_log "configuring $dir"
  cmake -S . -B "$dir" "$@" >/dev/null
  spillway_log "building $dir"
  cmake --build "$dir" -j"$(spillway_jobs)"
}
