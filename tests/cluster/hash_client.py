#!/usr/bin/python3
"""pymemcache's HashClient against spillway nodes; run by hash_client_test.cc.

    hash_client.py [--keys N] PORT...

(a) HashClient with its default hasher (rendezvous): round trips of set, get, delete, get_many
    and incr, spread over more than one node.
(b) HashClient with libmemcached's weighted ketama (KetamaHasher below): reads back the keys
    "cxx:<i>" that spillway::client::Client wrote before (values "cxx-value-<i>"), and writes
    "py:<i>" = "py-value-<i>" for the C++ side to read back with spillway::client::Client.

Exits non-zero, saying why, on the first thing that is wrong. Needs python3-pymemcache
(Debian's, 3.5.2), so run it with /usr/bin/python3.
"""

import argparse
import bisect
import hashlib
import sys

from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

HOST = "127.0.0.1"
TIMEOUT = 5  # seconds; a node that hangs fails the run instead of stalling it


class KetamaHasher:
    """libmemcached's MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED placement, as client/ketama.h describes
    it, for HashClient's hasher interface (add_node, remove_node, get_node; HashClient builds it
    with no arguments). HashClient names nodes "host:port", every node with weight 1."""

    def __init__(self):
        self.nodes = []
        self.points = []  # sorted (value, index of the node in self.nodes)

    def add_node(self, node):
        if node not in self.nodes:
            self.nodes.append(node)
            self._build()

    def remove_node(self, node):
        self.nodes.remove(node)
        self._build()

    def get_node(self, key):
        if not self.points:
            return None
        if isinstance(key, str):
            key = key.encode()
        h = int.from_bytes(hashlib.md5(key).digest()[:4], "little")
        at = bisect.bisect_left(self.points, (h, -1))
        return self.nodes[self.points[at % len(self.points)][1]]

    @staticmethod
    def _point_name(node):
        # libmemcached (and twemproxy) leave the default port out of the hashed name.
        host, port = node.rsplit(":", 1)
        return host if port == "11211" else node

    def _build(self):
        # Equal weights: each server's share is 1/n, so floor(1/n * 40 * n + 1e-10) = 40 digests,
        # 4 points from each, 160 in all (the epsilon is libmemcached's, against 39.99999...).
        self.points = []
        if not self.nodes:
            return
        share = 1.0 / len(self.nodes)
        digests = int(share * 40 * len(self.nodes) + 0.0000000001)
        for index, node in enumerate(self.nodes):
            name = self._point_name(node)
            for i in range(digests):
                d = hashlib.md5(("%s-%d" % (name, i)).encode()).digest()
                for a in range(4):
                    self.points.append((int.from_bytes(d[a * 4 : a * 4 + 4], "little"), index))
        self.points.sort()


def fail(message):
    print("hash_client.py: " + message, file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def holders(ports, keys):
    """How many of `keys` each node holds, read from each node directly."""
    counts = {}
    for port in ports:
        direct = Client((HOST, port), connect_timeout=TIMEOUT, timeout=TIMEOUT)
        counts[port] = len(direct.get_many(keys))
        direct.close()
    return counts


def default_hasher(ports, count):
    hc = HashClient([(HOST, p) for p in ports], connect_timeout=TIMEOUT, timeout=TIMEOUT,
                    default_noreply=False)
    keys = ["rdv:%d" % i for i in range(count)]
    for i, k in enumerate(keys):
        expect(hc.set(k, b"rdv-%d" % i) is True, "set %s" % k)
        expect(hc.get(k) == b"rdv-%d" % i, "get %s" % k)
    got = hc.get_many(keys)
    expect(len(got) == count, "get_many returned %d of %d" % (len(got), count))
    for i, k in enumerate(keys):
        expect(got[k] == b"rdv-%d" % i, "get_many %s = %r" % (k, got[k]))

    counts = holders(ports, keys)
    expect(sum(counts.values()) == count, "keys held: %r" % counts)
    expect(sum(1 for c in counts.values() if c > 0) > 1, "all keys on one node: %r" % counts)

    expect(hc.set("rdv:counter", b"41") is True, "set counter")
    expect(hc.incr("rdv:counter", 1) == 42, "incr")
    expect(hc.get("rdv:counter") == b"42", "get after incr")
    for k in keys[: count // 2]:
        expect(hc.delete(k) is True, "delete %s" % k)
        expect(hc.get(k) is None, "%s still there after delete" % k)
    expect(len(hc.get_many(keys)) == count - count // 2, "get_many after deletes")
    hc.close()
    print("default hasher: %d keys over %r" % (count, counts))


def ketama_hasher(ports, count):
    hc = HashClient([(HOST, p) for p in ports], hasher=KetamaHasher, connect_timeout=TIMEOUT,
                    timeout=TIMEOUT, default_noreply=False)
    cxx = ["cxx:%d" % i for i in range(count)]
    got = hc.get_many(cxx)
    missing = [k for k in cxx if k not in got]
    expect(not missing,
           "%d keys spillway::client wrote miss, e.g. %s" % (len(missing), missing[:5]))
    for i, k in enumerate(cxx):
        expect(got[k] == b"cxx-value-%d" % i, "%s = %r" % (k, got[k]))
    for i in range(count):
        expect(hc.set("py:%d" % i, b"py-value-%d" % i) is True, "set py:%d" % i)
    hc.close()
    print("ketama hasher: read %d keys, wrote %d" % (count, count))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("ports", type=int, nargs="+")
    args = parser.parse_args()
    default_hasher(args.ports, args.keys)
    ketama_hasher(args.ports, args.keys)


if __name__ == "__main__":
    main()
