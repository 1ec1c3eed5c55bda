package repl

import (
	"errors"
	"strconv"
	"strings"

	"github.com/memcached-lite/memcached-lite/client"
)

// The meta commands (memcached 1.6's mg, ms, md, ma, me) in friendly form:
// the flags as the protocol writes them, the reply as the server sends it.
// Typed in protocol form ("mg k v t") a line is sent raw instead.

func metaCommands() []*command {
	return []*command{
		{name: "meta-get", args: "KEY [FLAG...]", summary: "mg: fetch with flags, e.g. v c t f k, T30 touch, N30 vivify", keys: firstKey, run: (*REPL).cmdMeta},
		{name: "meta-set", args: "KEY VALUE [FLAG...]", summary: "ms: store with flags, e.g. T60 F1 c, C<cas>, MA append, I", keys: firstKey, run: (*REPL).cmdMeta},
		{name: "meta-delete", args: "KEY [FLAG...]", summary: "md: remove, or mark stale with I", keys: firstKey, run: (*REPL).cmdMeta},
		{name: "meta-arith", args: "KEY [FLAG...]", summary: "ma: add D<n> (MD: subtract); N0 J<n> creates", keys: firstKey, run: (*REPL).cmdMeta},
		{name: "meta-debug", args: "KEY", summary: "me: the server's debug line for an item", keys: firstKey, run: (*REPL).cmdMeta},
	}
}

var metaHelpTexts = map[string]string{
	"meta-get": `Sends mg KEY FLAG... and shows the reply as the server sends it.

  > meta-set greeting hello T60
  HD
  > meta-get greeting v t c f
  VA 5 t60 c7 f0
  hello
  > meta-get nothing v
  EN

Flags: v value, s size, t seconds left (-1: never), c CAS, f client flags,
k key, h fetched before (0/1), l seconds since last access, O<token>
echoed back, q quiet (no EN on a miss), u do not count as an access,
T<ttl> touch, N<ttl> create an empty item on a miss (reply flag W: you
should fill it), R<secs> win the right to recache (W) if less is left,
b the key is base64. Reply flags W (won), Z (someone else won), X (stale).
In protocol form the same is: mg greeting v t c f
`,
	"meta-set": `Sends ms KEY LENGTH FLAG... with VALUE and shows the reply: HD
stored, NS not stored, EX the CAS did not match, NF not found.

  > meta-set counter 10 T0 c
  HD c12
  > meta-set counter 11 C12
  HD

Flags: T<ttl>, F<flags>, c return the new CAS, C<cas> compare first,
I with C: a lower CAS marks the item stale instead of failing, q quiet
(no HD), O<token>, k, b base64 key, M<mode>: MS set (default), ME add,
MA append, MP prepend, MR replace.
`,
	"meta-delete": `Sends md KEY FLAG...: HD deleted, NF not found, EX the CAS did not
match. With I the item stays but is marked stale (mg then shows X, and
the first to fetch it gets W); T<ttl> with I sets its TTL. Also C<cas>,
q, O<token>, k, b.
`,
	"meta-arith": `Sends ma KEY FLAG...: adds 1, or D<n>; MD (or M-) subtracts, stopping
at 0. N<ttl> creates a missing counter at J<n> (default 0). v shows the
new value, t its TTL, c its CAS; also T<ttl>, C<cas>, q, O<token>, k, b.

  > meta-arith hits N0 J100 v
  VA 3
  100
`,
	"meta-debug": `Sends me KEY: the server's debug line, e.g.
  ME greeting exp=-1 la=2 cas=7 fetch=no cls=1 size=63
exp is minus the seconds left (-1: never), la seconds since the last
store, fetch whether a meta get read it; cls and size are the slab class
and size memcached would give the item.
`,
}

func (r *REPL) cmdMeta(cmd *command, args []string) error {
	if len(args) == 0 {
		return usage(cmd, "missing KEY")
	}
	key, flags := args[0], args[1:]
	var (
		reply *client.MetaReply
		err   error
	)
	switch cmd.name {
	case "meta-get":
		reply, err = r.c.MetaGet(key, flags...)
	case "meta-set":
		if len(flags) == 0 {
			return usage(cmd, "missing VALUE")
		}
		reply, err = r.c.MetaSet(key, []byte(flags[0]), flags[1:]...)
	case "meta-delete":
		reply, err = r.c.MetaDelete(key, flags...)
	case "meta-arith":
		reply, err = r.c.MetaArithmetic(key, flags...)
	case "meta-debug":
		if len(flags) > 0 {
			return usage(cmd, "one KEY")
		}
		line, err := r.c.MetaDebug(key)
		if errors.Is(err, client.ErrCacheMiss) {
			r.print(r.paint(dim, "EN (not found)") + "\n")
			return nil
		}
		if err != nil {
			return err
		}
		r.print("ME " + key + " " + line + "\n")
		return nil
	}
	if reply == nil {
		return err
	}
	r.keys[key] = true
	line := strings.TrimSpace(reply.Status + " " + strings.Join(reply.Flags, " "))
	if reply.Status == "VA" {
		line = "VA " + strconv.Itoa(len(reply.Value)) + " " + strings.Join(reply.Flags, " ")
		line = strings.TrimSpace(line)
	}
	switch {
	case reply.Status == "":
		r.print(r.paint(dim, "(quiet: no reply)") + "\n")
	case reply.Status == "EN":
		r.print(r.paint(dim, line+" (not found)") + "\n")
		return nil
	case err != nil:
		return r.outcome(cmd, key, line, strings.TrimPrefix(err.Error(), "client: "))
	default:
		r.ok(cmd, key, line)
	}
	if reply.Value != nil {
		text, notes := showValue(reply.Value)
		if len(notes) > 0 {
			text += " " + r.paint(dim, "("+strings.Join(notes, ", ")+")")
		}
		r.print(text + "\n")
	}
	return nil
}
