#!/usr/bin/python3
"""Drive a memcached-lite server with pylibmc (Debian python3-pylibmc, on
libmemcached 1.0.18) over the text protocol (binary=False).

Usage: /usr/bin/python3 pylibmc_test.py HOST PORT

It prints "OK" and exits 0 on success; on the first failed check it prints
the check to stderr and exits 1. The server is flushed first: run it against
a server no one else uses.
"""

import sys

import pylibmc


class Failure(Exception):
    pass


def check(what, got, want):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def raises(what, exc_type, fn, *args):
    try:
        got = fn(*args)
    except exc_type as e:
        return e
    raise Failure("%s: returned %r, want %s" % (what, got, exc_type.__name__))


def run(host, port):
    server = "%s:%d" % (host, port)
    # "cas" makes get requests use gets, which pylibmc's cas needs.
    mc = pylibmc.Client([server], binary=False, behaviors={"cas": True})
    check("flush_all", mc.flush_all(), True)

    check("set", mc.set("some_key", b"some value"), True)
    check("get", mc.get("some_key"), b"some value")
    check("get missing", mc.get("missing"), None)
    check("set str", mc.set("text", "caf\u00e9"), True)
    check("get str", mc.get("text"), "caf\u00e9")
    check("set int", mc.set("number", 41), True)
    check("get int", mc.get("number"), 41)
    obj = {"a": [1, 2, 3]}
    check("set pickled", mc.set("obj", obj), True)
    check("get pickled", mc.get("obj"), obj)
    binary = bytes(range(256)) + b"\r\nEND\r\n"
    check("set binary", mc.set("bin", binary), True)
    check("get binary", mc.get("bin"), binary)

    check("set_multi", mc.set_multi({"m1": b"1", "m2": b"2", "m3": b"3"}), [])
    check("get_multi", mc.get_multi(["m1", "m2", "m3", "missing"]),
          {"m1": b"1", "m2": b"2", "m3": b"3"})

    check("add existing", mc.add("m1", b"x"), False)
    check("add new", mc.add("added", b"a"), True)
    check("replace missing", mc.replace("nothere", b"x"), False)
    check("replace", mc.replace("added", b"b"), True)
    check("append", mc.append("added", b">"), True)
    check("prepend", mc.prepend("added", b"<"), True)
    check("get after affixes", mc.get("added"), b"<b>")

    check("set counter", mc.set("counter", b"10"), True)
    check("incr", mc.incr("counter", 5), 15)
    check("decr", mc.decr("counter", 20), 0)
    check("incr by default", mc.incr("counter"), 1)
    raises("incr missing", pylibmc.NotFound, mc.incr, "nothere", 1)

    value, cas = mc.gets("added")
    check("gets value", value, b"<b>")
    check("cas stale", mc.cas("added", b"stale", cas + 1000), False)
    check("cas", mc.cas("added", b"swapped", cas), True)
    check("cas reused", mc.cas("added", b"again", cas), False)
    check("get after cas", mc.get("added"), b"swapped")

    check("touch", mc.touch("added", 3600), True)
    check("touch missing", mc.touch("nothere", 3600), False)
    check("set to expire", mc.set("expiring", b"x"), True)
    check("touch negative", mc.touch("expiring", -1), True)
    check("get after touch negative", mc.get("expiring"), None)

    check("delete", mc.delete("m1"), True)
    check("delete missing", mc.delete("m1"), False)
    check("get deleted", mc.get("m1"), None)
    check("delete_multi", mc.delete_multi(["m2", "m3"]), True)
    check("get_multi deleted", mc.get_multi(["m2", "m3"]), {})

    stats = mc.get_stats()
    check("get_stats servers", len(stats), 1)
    name, st = stats[0]
    check("get_stats has curr_items", "curr_items" in st, True)
    check("curr_items is a number", st["curr_items"].isdigit(), True)

    check("flush_all again", mc.flush_all(), True)
    check("get after flush_all", mc.get("some_key"), None)
    mc.disconnect_all()


def main():
    if len(sys.argv) != 3:
        print("usage: pylibmc_test.py HOST PORT", file=sys.stderr)
        return 2
    try:
        run(sys.argv[1], int(sys.argv[2]))
    except (Failure, pylibmc.Error) as e:
        print("FAIL (pylibmc %s, libmemcached %s): %s: %s" % (
            pylibmc.__version__, pylibmc.libmemcached_version, type(e).__name__, e),
            file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
