#!/usr/bin/python3
"""Real memcached clients against a real spillway process.

    conformance.py --binary build/server/spillway --io epoll --client pymemcache|memccapable|perl

Starts spillway on a free port (--port=0, the port read back from --ready_fd), runs one client's
checks against it, stops the server with SIGTERM and exits non-zero on any failure. Uses Debian's
python3 (/usr/bin/python3), where python3-pymemcache lives.
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def start(binary, io, threads, data_dir):
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [binary, "--io=" + io, "--threads=" + str(threads), "--port=0",
         "--ready_fd=" + str(write_fd), "--memory_limit=64", "--data_dir=" + data_dir],
        pass_fds=(write_fd,))
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        line = ready.readline()
    if not line.strip():
        proc.kill()
        proc.wait()  # gone before its data directory is removed
        if io == "uring":
            # ctest reports exit 77 as skipped (SKIP_RETURN_CODE): this kernel has no usable
            # io_uring, and the server's log above says why.
            print("skipped: spillway cannot run on io_uring here")
            sys.exit(77)
        sys.exit("spillway did not start")
    return proc, int(line)


def check_pymemcache(port):
    from pymemcache.client.base import Client
    c = Client(("127.0.0.1", port), timeout=10, connect_timeout=10, default_noreply=False)
    assert c.set("a", b"1") is True
    assert c.get("a") == b"1"
    assert c.add("a", b"2") is False
    assert c.replace("a", b"3") is True
    assert c.append("a", b"4") is True
    assert c.prepend("a", b"0") is True
    assert c.get("a") == b"034"
    value, cas = c.gets("a")
    assert value == b"034"
    assert c.cas("a", b"x", cas) is True
    assert c.cas("a", b"y", cas) is False
    assert c.set("n", b"10") is True
    assert c.incr("n", 5) == 15
    assert c.decr("n", 20) == 0
    assert c.incr("missing", 1) is None
    assert c.touch("n", 100) is True
    assert c.delete("n") is True
    assert c.delete("n", noreply=False) is False
    many = {"k%d" % i: b"v%d" % i for i in range(200)}
    assert c.set_many(many) == []
    assert c.get_many(list(many)) == many
    big = b"b" * (1000 * 1000)
    assert c.set("big", big) is True
    assert c.get("big") == big
    stats = c.stats()
    assert stats[b"curr_items"] >= 202, stats
    assert c.flush_all() is True
    assert c.get("a") is None
    assert c.version()
    c.close()


def check_memccapable(port):
    # The ascii tests only: spillway has no binary protocol.
    result = subprocess.run(["memccapable", "-a", "-h", "127.0.0.1", "-p", str(port), "-t", "10"],
                            capture_output=True, text=True, timeout=300)
    sys.stdout.write(result.stdout + result.stderr)
    assert result.returncode == 0, "memccapable failed"
    assert "failed" not in result.stdout.lower().replace("0 failed", ""), "a test failed"


def check_perl(port):
    result = subprocess.run(["perl", os.path.join(HERE, "cache_memcached.pl"), "127.0.0.1:%d" % port],
                            capture_output=True, text=True, timeout=120)
    sys.stdout.write(result.stdout + result.stderr)
    assert result.returncode == 0, "Cache::Memcached checks failed"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--io", default="epoll")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--client", required=True,
                        choices=["pymemcache", "memccapable", "perl"])
    args = parser.parse_args()
    # Several of these run at once from one working directory: each server gets a spill tier of
    # its own, removed afterwards.
    with tempfile.TemporaryDirectory(prefix="spillway-conformance-") as data_dir:
        proc, port = start(args.binary, args.io, args.threads, data_dir)
        try:
            {"pymemcache": check_pymemcache, "memccapable": check_memccapable,
             "perl": check_perl}[args.client](port)
        finally:
            proc.terminate()
            code = proc.wait(timeout=20)
    assert code == 0, "spillway exited with %d" % code
    print("ok: %s against spillway (%s, %d shards)" % (args.client, args.io, args.threads))


if __name__ == "__main__":
    main()
