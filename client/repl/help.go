package repl

import (
	"slices"
	"strings"
)

// helpIntro heads the command list.
const helpIntro = `Commands (help COMMAND explains one, with an example):
`

// helpOutro follows the command list.
const helpOutro = `
Protocol commands with no friendly form, sent as typed (help gat explains one):
  gat gats bget flush_all verbosity mn shutdown

Lines in the protocol's own shape, such as "set k 0 0 5" or "raw get k",
are sent as typed and their replies shown as received: see help raw.
Values with spaces go in double quotes, with escapes: "two words\n".
Lines starting with # are comments.
`

// protocolHelp explains the protocol commands that have no friendly form:
// their usage line and text. Typed as shown, they are sent as they are.
var protocolHelp = map[string][2]string{
	"gat": {"gat EXPTIME KEY...", `Get and touch: fetches values as get does, and gives each item found a new
time to live (EXPTIME as ttl= in set: 0 never expires, negative expires it
right after this reply). The value shown is the one before the touch.

  > gat 300 session:9
  VALUE session:9 0 5
  alice
  END

It is sent as typed, and the reply shown as received (help raw).
`},
	"gats": {"gats EXPTIME KEY...", `Get and touch, with the CAS number of each item, as gets shows it.

  > gats 300 session:9
  VALUE session:9 0 5 12
  alice
  END
`},
	"bget": {"bget KEY...", `An old name of get, which servers still accept. Its reply is get's.
`},
	"flush_all": {"flush_all [DELAY] [noreply]", `The protocol's name of flush: invalidates every item, at once or in DELAY
seconds. A server started with -F refuses it (CLIENT_ERROR flush_all not
allowed).

  > flush_all
  OK
`},
	"verbosity": {"verbosity LEVEL [noreply]", `Sets how much the server logs. memcached-lite answers OK and keeps the
level it was started with (-v, -vv).

  > verbosity 1
  OK
`},
	"mn": {"mn", `The meta protocol's no-op: the server answers MN at once. After a batch of
noreply commands, mn tells that the server has read them all (they are
answered in order), and with memcached-lite that they are on disk.

  > set k 0 0 1 noreply
  data> x
  (no reply: noreply asks the server to send nothing back)
  > mn
  MN
`},
	"mg": {"mg KEY FLAG...", "The meta get, sent as typed: see help meta-get for its flags.\n\n  > mg greeting v t\n  VA 5 t-1\n  hello\n"},
	"ms": {"ms KEY LENGTH FLAG...", "The meta set, sent as typed, then the data line: see help meta-set.\n\n  > ms greeting 5 T60\n  data> hello\n  HD\n"},
	"md": {"md KEY FLAG...", "The meta delete, sent as typed: see help meta-delete.\n"},
	"ma": {"ma KEY FLAG...", "The meta arithmetic, sent as typed: see help meta-arith.\n"},
	"me": {"me KEY", "The meta debug command, sent as typed: see help meta-debug.\n"},
	"shutdown": {"shutdown [graceful]", `Asks the server to stop. A server started without -A refuses:
ERROR: shutdown not enabled. With -A it stops as on SIGTERM and sends no
reply: the connection closes.
`},
}

// helpTexts explains each command to someone learning memcached: what it
// does, what the server replies, and the protocol on the wire.
var helpTexts = map[string]string{
	"set": `Stores VALUE under KEY, replacing whatever was there.

  > set greeting hello
  STORED
  > set motto "less is more" ttl=60 flags=1
  STORED

VALUE is one word, or "double quoted" with escapes: \n \t \r \0 \\ \" \xHH.
ttl=SECONDS makes the item expire: 0 (the default) never, up to 2592000
(30 days) in that many seconds, a larger number at that Unix time.
flags=N is a number from 0 to 4294967295 the server keeps with the value
and gives back with it; clients use it to say how the value is encoded.

The server replies STORED. On the wire (try "trace on"), the command line
gives flags, exptime and the value's length in bytes, then the value:
  >> set motto 1 60 12\r\n
  >> less is more\r\n
  << STORED\r\n

Typed in that shape (a key then three numbers), set is sent as is, and the
REPL asks for the data line:
  > set greeting 0 0 5
  data> hello
  STORED
`,
	"add": `Stores VALUE under KEY only if KEY is not there yet.

  > add user:1 alice
  STORED
  > add user:1 bob
  NOT_STORED (add stores only new keys, and "user:1" already exists)

Options are those of set (help set). Two clients that add the same key at
once cannot both win: add is how memcached users take a lock.
On the wire: add user:1 0 0 5\r\n alice\r\n, reply STORED\r\n or NOT_STORED\r\n.
`,
	"replace": `Stores VALUE under KEY only if KEY is already there.

  > replace user:2 carol
  NOT_STORED (replace needs an existing key, and there is no "user:2")

Options are those of set (help set).
On the wire: replace user:2 0 0 5\r\n carol\r\n, reply STORED\r\n or NOT_STORED\r\n.
`,
	"append": `Adds VALUE after the value stored under KEY. The item keeps its flags
and time to live, so append takes no options.

  > set list a
  STORED
  > append list ,b
  STORED
  > get list
  a,b

If KEY is not there the server replies NOT_STORED.
On the wire: append list 0 0 2\r\n ,b\r\n, reply STORED\r\n.
`,
	"prepend": `Adds VALUE before the value stored under KEY, as append adds it after.

  > prepend list z,
  STORED
  > get list
  z,a,b

On the wire: prepend list 0 0 2\r\n z,\r\n, reply STORED\r\n or NOT_STORED\r\n.
`,
	"cas": `Check-and-set: stores VALUE under KEY only if nobody changed the item
since you read it with gets. CAS is the number gets showed.

  > gets counter
  10 (cas=7)
  > cas counter 11 7
  STORED
  > cas counter 12 7
  EXISTS (...: its CAS is no longer 7)

EXISTS means someone wrote the item in between: read it again with gets
and retry. NOT_FOUND means the item is gone. Options are those of set.
On the wire: cas counter 0 0 2 7\r\n 11\r\n, reply STORED\r\n, EXISTS\r\n
or NOT_FOUND\r\n. In the raw shape (four numbers after the key) it is sent
as typed.
`,
	"get": `Fetches the values stored under one or more keys.

  > get greeting
  hello
  > get greeting nothing
  greeting: hello
  nothing: (not found)

Text is shown as it is; other values in quotes with their length, e.g.
"\x00\x01" (2 bytes, binary). Flags other than 0 are shown after the value.
A miss is not an error. On the wire the server sends one VALUE block per
key it has (key, flags, length, then the bytes), then END:
  >> get greeting nothing\r\n
  << VALUE greeting 0 5\r\n
  << hello\r\n
  << END\r\n
"raw get greeting" shows the reply exactly like that.
`,
	"gets": `Fetches values as get does, with the CAS number of each: a version the
server changes on every write of the item. Give it to cas.

  > gets greeting
  hello (cas=12)

On the wire: gets greeting\r\n, reply VALUE greeting 0 5 12\r\n hello\r\n END\r\n.
`,
	"delete": `Removes the item stored under KEY.

  > delete greeting
  DELETED
  > delete greeting
  NOT_FOUND (there is no "greeting")

On the wire: delete greeting\r\n, reply DELETED\r\n or NOT_FOUND\r\n.
`,
	"incr": `Adds N (default 1) to the decimal number stored under KEY and shows the
result. The server does it in one step, so concurrent clients never lose a
count. The key must exist: incr does not create it.

  > set visits 0
  STORED
  > incr visits
  1
  > incr visits 10
  11

A value that is not a number gets CLIENT_ERROR; past 18446744073709551615
the number wraps to 0. On the wire: incr visits 10\r\n, reply 11\r\n or
NOT_FOUND\r\n.
`,
	"decr": `Subtracts N (default 1) from the decimal number stored under KEY and
shows the result; it stops at 0, never going negative.

  > decr visits 5
  6

On the wire: decr visits 5\r\n, reply 6\r\n or NOT_FOUND\r\n.
`,
	"touch": `Gives the item under KEY a new time to live without changing its value
(TTL as in set: 0 never expires).

  > touch session:9 300
  TOUCHED

On the wire: touch session:9 300\r\n, reply TOUCHED\r\n or NOT_FOUND\r\n.
`,
	"flush": `Invalidates every item on every server, at once or in DELAY seconds.
Careful: nothing asks "are you sure?".

  > flush
  OK

On the wire it is flush_all: flush_all\r\n (or flush_all 10\r\n), reply OK\r\n.
`,
	"keys": `Lists the keys the server holds, sorted, with the time each has left
and its size (memcached's: key, value and about 60 bytes of bookkeeping).
PATTERN picks keys as a shell does: * any run of characters, ? one, [ab] a set.

  > keys user:*
  KEY     TTL    SIZE
  user:1  never  67
  user:2  55s    67
  (2 keys)

On the wire: lru_crawler metadump all\r\n, reply one line per item,
  key=user:1 exp=-1 la=1700000000 cas=3 fetch=no cls=1 size=67\n
then END\r\n (keys are URL-encoded: a space is %20). With several servers,
each is asked and the lists merged. Every key is listed: fine for a
learner's server, slow for one with millions of items.
`,
	"ttl": `Shows how long the item under KEY has left before it expires.

  > set token abc ttl=60
  STORED
  > ttl token
  token expires in 60s
  > ttl greeting
  greeting never expires

On the wire: lru_crawler metadump all\r\n, as keys does, and the exp=
field of KEY's line (a Unix time, -1 for never) less the current time.
`,
	"watch": `Shows, one line each, what the server does while you watch: gets
(fetchers), writes (mutations), connections opening and closing
(connevents); all three unless you name some. count=N stops after N
events; Ctrl-C stops watching and returns to the prompt.

  > watch mutations
  watching mutations (Ctrl-C to stop)
  12:00:01.000042 store   set greeting stored ttl=0 size=5

On the wire: a new connection sends watch mutations\r\n, the server
answers OK\r\n and from then on sends one line per event, e.g.
  ts=1700000001.42 gid=7 type=item_store key=greeting status=stored cmd=set ttl=0 clsid=1 cfd=12 size=5\n
A watcher that reads too slowly loses events: the server then sends
skipped=N, and watch says how many were dropped.
`,
	"stats": `Shows the server's statistics as a table, in the server's order.
SECTION picks another group: settings, items, slabs (memcached has more).

  > stats
  pid              4242
  uptime           75
  curr_items       3
  get_hits         10
  ...

On the wire: stats\r\n, reply one STAT name value\r\n line per statistic,
then END\r\n. With several servers, each gets its own table.
`,
	"version": `Shows the version each server reports.

  > version
  1.6.18

On the wire: version\r\n, reply VERSION 1.6.18\r\n.
`,
	"servers": `Lists the servers this client talks to (-s on the command line). With
keys, tells which server holds each: the client spreads keys over the
servers with ketama consistent hashing, as twemproxy does, so every client
with the same server list finds a key on the same server.

  > servers user:1 user:2
  user:1 -> 127.0.0.1:11211
  user:2 -> 127.0.0.1:11212

It sends nothing: the client computes the answer.
`,
	"trace": `Shows every byte sent (>>) and received (<<), with \r\n and control
bytes made visible. "trace" alone tells whether it is on.

  > trace on
  > set k hi
  >> set k 0 0 2\r\n
  >> hi\r\n
  << STORED\r\n
  STORED

After a command with noreply, the client sends "version\r\n" to know the
server has read it (no other reply comes); trace hides that and says so.
`,
	"raw": `Sends a protocol line as typed and shows the reply as received, line by
line without its \r\n (with trace on, the trace shows it exactly).

  > raw get greeting
  VALUE greeting 0 5
  hello
  END

The raw prefix is optional when the line cannot be a friendly command:
  - set/add/replace/append/prepend with three numbers after the key (flags,
    exptime, bytes), and cas with four: "set k 0 0 5" is raw, while
    "set k 5" stores the value 5;
  - any protocol command ending in noreply;
  - commands with no friendly form: gat, gats, flush_all, verbosity and the
    meta commands mg, ms, md, ma, mn, me.
get, gets, delete, incr, decr, touch, stats and version read the same
either way, so they are friendly unless you write raw.

A storage command is followed by its data line (prompt data>), which
must be as long as the command says:
  > set greeting 0 0 5
  data> hello
  STORED

With several servers a raw command goes to its key's server, and one
without a key to each server. "watch" is not supported.
`,
	"help": `Lists the commands, or explains one: help set, help raw.
`,
	"quit": `Leaves the REPL; so do exit and Ctrl-D. Ctrl-C cancels the line being
typed. In raw form ("raw quit") it asks the server to close the connection.
`,
}

func (r *REPL) cmdHelp(cmd *command, args []string) error {
	if len(args) > 1 {
		return usage(cmd, "one COMMAND at a time")
	}
	if len(args) == 1 {
		name := strings.ToLower(args[0])
		if c := r.cmds[name]; c != nil {
			text, ok := helpTexts[c.name]
			if !ok {
				text = metaHelpTexts[c.name]
			}
			r.print(c.usage() + "\n\n" + text)
			return nil
		}
		if h, ok := protocolHelp[name]; ok {
			r.print(h[0] + "   (sent as typed)\n\n" + h[1])
			return nil
		}
		names := append([]string(nil), r.names...)
		for v := range protocolHelp {
			names = append(names, v)
		}
		slices.Sort(names)
		if s := Closest(name, names); s != "" {
			return usage(cmd, "no command %q; did you mean %s?", args[0], s)
		}
		return usage(cmd, "no command %q", args[0])
	}
	var rows [][2]string
	for _, name := range r.names {
		if name != "exit" {
			c := r.cmds[name]
			rows = append(rows, [2]string{c.usage(), c.summary})
		}
	}
	r.print(helpIntro + indent(table(rows)) + helpOutro)
	return nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}
