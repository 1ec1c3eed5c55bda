#!/usr/bin/python3
"""Drive a memcached-lite server with pymemcache (Debian python3-pymemcache).

Usage: /usr/bin/python3 pymemcache_test.py HOST PORT

pymemcache's Client sends "noreply" by default for set, add, replace, append,
prepend, delete, touch and flush_all (default_noreply=True); incr, decr and
cas wait for replies unless asked not to. The script first runs a long
noreply sequence on one connection, then reads back every effect with exact
values, then checks the replies of the same commands with noreply=False.

It prints "OK" and exits 0 on success; on the first failed check it prints
the check to stderr and exits 1. The server is flushed first: run it against
a server no one else uses.
"""

import sys

import pymemcache
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheServerError
from pymemcache.serde import PickleSerde


class Failure(Exception):
    pass


def check(what, got, want):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def raises(what, exc_type, fn, *args, **kwargs):
    """Check that fn raises exc_type and return the exception."""
    try:
        got = fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise Failure("%s: returned %r, want %s" % (what, got, exc_type.__name__))


class FlagsSerde(object):
    """Stores bytes as given and returns (value, flags) from the server."""

    def serialize(self, key, value):
        return value, 0

    def deserialize(self, key, value, flags):
        return value, flags


def noreply_writes(c):
    """A pipeline of writes that get no reply; every one has an effect that
    reads_after_noreply checks."""
    check("default_noreply", c.default_noreply, True)
    c.set("some_key", "some value")
    c.set("nr_set", "v1")
    c.set("nr_set", "v2")
    c.add("nr_add", "added")
    c.add("nr_add", "ignored")  # exists: NOT_STORED, not sent back
    c.replace("nr_replace_missing", "x")  # missing: must not be created
    c.set("nr_replace", "old")
    c.replace("nr_replace", "new")
    c.set("nr_affix", "mid")
    c.append("nr_affix", ">>")
    c.prepend("nr_affix", "<<")
    c.append("nr_affix_missing", "x")  # missing: must not be created
    c.set("nr_delete", "x")
    c.delete("nr_delete")
    c.delete("nr_delete_missing")  # NOT_FOUND, not sent back
    c.set("nr_counter", "10")
    c.incr("nr_counter", 5, noreply=True)
    c.decr("nr_counter", 3, noreply=True)
    c.incr("nr_counter_missing", 1, noreply=True)  # NOT_FOUND: not created
    c.set("nr_touch", "t")
    c.touch("nr_touch", -1)  # negative exptime: expires at once
    c.touch("nr_touch_missing", 100)
    c.set("nr_expired", "x", expire=-1)
    c.set("nr_flags", b"payload", flags=42)
    c.set_many({"nr_many1": "m1", "nr_many2": "m2", "nr_many3": "m3"})
    c.delete_many(["nr_many3"])
    # Errors are not sent back with noreply either; the stream must stay in
    # sync: the too-large block is swallowed, the non-numeric incr ignored.
    c.set("nr_big", b"x" * (2 << 20))
    c.set("nr_text", "abc")
    c.incr("nr_text", 1, noreply=True)
    c.set("nr_last", "last")


def reads_after_noreply(c):
    check("get some_key", c.get("some_key"), b"some value")
    check("get nr_set", c.get("nr_set"), b"v2")
    check("get nr_add", c.get("nr_add"), b"added")
    check("get nr_replace_missing", c.get("nr_replace_missing"), None)
    check("get nr_replace", c.get("nr_replace"), b"new")
    check("get nr_affix", c.get("nr_affix"), b"<<mid>>")
    check("get nr_affix_missing", c.get("nr_affix_missing"), None)
    check("get nr_delete", c.get("nr_delete"), None)
    check("get nr_counter", c.get("nr_counter"), b"12")
    check("get nr_counter_missing", c.get("nr_counter_missing"), None)
    check("get nr_touch", c.get("nr_touch"), None)
    check("get nr_touch_missing", c.get("nr_touch_missing"), None)
    check("get nr_expired", c.get("nr_expired"), None)
    check("get nr_big", c.get("nr_big"), None)
    check("get nr_text", c.get("nr_text"), b"abc")
    check("get nr_last", c.get("nr_last"), b"last")
    check(
        "get_many",
        c.get_many(["nr_many1", "nr_many2", "nr_many3", "nr_set", "nope"]),
        {"nr_many1": b"m1", "nr_many2": b"m2", "nr_set": b"v2"},
    )


def replies(c, host, port):
    """The same commands, waiting for each reply."""
    check("set", c.set("r_key", "1", noreply=False), True)
    check("add existing", c.add("r_key", "x", noreply=False), False)
    check("add new", c.add("r_new", "n", noreply=False), True)
    check("replace missing", c.replace("r_missing", "x", noreply=False), False)
    check("replace", c.replace("r_new", "n2", noreply=False), True)
    check("append missing", c.append("r_missing", "x", noreply=False), False)
    check("append", c.append("r_new", "+", noreply=False), True)
    check("prepend", c.prepend("r_new", "-", noreply=False), True)
    check("get r_new", c.get("r_new"), b"-n2+")

    check("incr", c.incr("r_key", 41), 42)
    check("incr missing", c.incr("r_missing", 1), None)
    check("decr", c.decr("r_key", 2), 40)
    check("decr below zero", c.decr("r_key", 100), 0)
    check("incr wraps", (c.set("r_max", "18446744073709551615", noreply=False),
                         c.incr("r_max", 2)), (True, 1))
    e = raises("incr non-numeric", MemcacheClientError, c.incr, "r_new", 1)
    check("incr non-numeric message", e.args[0],
          b"cannot increment or decrement non-numeric value")

    value, cas = c.gets("r_new")
    check("gets value", value, b"-n2+")
    check("gets cas is digits", cas.isdigit(), True)
    check("cas stale", c.cas("r_new", "stale", int(cas) + 1000), False)
    check("cas", c.cas("r_new", "swapped", cas), True)
    check("cas reused", c.cas("r_new", "again", cas), False)
    check("cas missing", c.cas("r_missing", "x", cas), None)
    check("get after cas", c.get("r_new"), b"swapped")
    value2, cas2 = c.gets("r_new")
    check("cas changed", cas2 != cas, True)
    check("gets default", c.gets("r_missing"), (None, None))
    many = c.gets_many(["r_new", "r_missing"])
    check("gets_many", many, {"r_new": (b"swapped", cas2)})

    check("touch", c.touch("r_key", 3600, noreply=False), True)
    check("touch missing", c.touch("r_missing", 10, noreply=False), False)
    check("delete", c.delete("r_key", noreply=False), True)
    check("delete missing", c.delete("r_key", noreply=False), False)
    check("get deleted", c.get("r_key", default=b"default"), b"default")

    e = raises("set too large", MemcacheServerError,
               c.set, "r_big", b"x" * (2 << 20), noreply=False)
    check("too large message", e.args[0], b"object too large for cache")

    binary = bytes(range(256)) + b"\r\nEND\r\n" + b"\x00" * 10
    check("set binary", c.set("r_bin", binary, noreply=False), True)
    check("get binary", c.get("r_bin"), binary)
    large = bytes(i % 251 for i in range(500000))
    check("set large", c.set("r_large", large, noreply=False), True)
    check("get large", c.get("r_large"), large)
    check("set empty", c.set("r_empty", b"", noreply=False), True)
    check("get empty", c.get("r_empty"), b"")

    raw = Client((host, port), serde=FlagsSerde(), connect_timeout=5, timeout=5)
    check("flags", raw.get("nr_flags"), (b"payload", 42))
    check("flags max", raw.set("r_fmax", b"f", flags=4294967295, noreply=False), True)
    check("flags max get", raw.get("r_fmax"), (b"f", 4294967295))
    raw.close()

    pickled = Client((host, port), serde=PickleSerde(), connect_timeout=5, timeout=5)
    obj = {"list": [1, 2, 3], "text": "caf\u00e9"}
    pickled.set("r_obj", obj, noreply=False)
    pickled.set("r_int", 7, noreply=False)
    pickled.set("r_str", "str\u00e9", noreply=False)
    check("pickle round trip", pickled.get_many(["r_obj", "r_int", "r_str"]),
          {"r_obj": obj, "r_int": 7, "r_str": "str\u00e9"})
    pickled.close()

    version = c.version()
    check("version prefix", version.split(b".")[0], b"1")


def stats(c, port):
    check("flush_all", c.flush_all(noreply=False), True)
    check("get after flush_all", c.get("some_key"), None)
    before = c.stats()
    c.set_many({"s1": "a", "s2": "b", "s3": "c"}, noreply=False)
    check("get_many after set_many", c.get_many(["s1", "s2", "s3", "s4"]),
          {"s1": b"a", "s2": b"b", "s3": b"c"})
    after = c.stats()
    for name, delta in ((b"cmd_get", 4), (b"get_hits", 3), (b"get_misses", 1),
                        (b"cmd_set", 3), (b"total_items", 3)):
        check("stats %s delta" % name.decode(), after[name] - before[name], delta)
    # memcached drops flushed items lazily, memcached-lite at once: at least
    # the three new items are counted.
    check("stats curr_items type", type(after.get(b"curr_items")), int)
    check("stats curr_items >= 3", after[b"curr_items"] >= 3, True)
    check("stats pid type", type(after.get(b"pid")), int)
    check("stats version type", type(after.get(b"version")), bytes)
    check("stats rusage_user type", type(after.get(b"rusage_user")), float)
    settings = c.stats("settings")
    check("stats settings item_size_max", settings.get(b"item_size_max"), 1048576)
    check("stats settings tcpport", settings.get(b"tcpport"), port)
    # pymemcache 3.5.2 parses cas_enabled as an int and keeps b"yes" when
    # that fails.
    check("stats settings cas_enabled", settings.get(b"cas_enabled"), b"yes")


def main():
    if len(sys.argv) != 3:
        print("usage: pymemcache_test.py HOST PORT", file=sys.stderr)
        return 2
    host, port = sys.argv[1], int(sys.argv[2])
    c = Client((host, port), connect_timeout=5, timeout=5)
    try:
        check("flush_all", c.flush_all(noreply=False), True)
        noreply_writes(c)
        reads_after_noreply(c)
        replies(c, host, port)
        stats(c, port)
        c.quit()
        # quit closed the connection; the client reconnects on next use.
        check("get after quit", c.get("s1"), b"a")
    except Failure as e:
        print("FAIL (pymemcache %s): %s" % (pymemcache.__version__, e), file=sys.stderr)
        return 1
    finally:
        c.close()
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
