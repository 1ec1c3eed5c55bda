// Package storage is memcached-lite's durable item store: a bbolt file written
// through by one group-committing goroutine, with a read cache bounded in bytes
// in front of it.
//
// Every write (Set, Add, Incr, Delete, FlushAll, ...) is queued for the
// committer, which applies everything queued in arrival order inside one bbolt
// transaction, commits it with one fsync, updates the cache and only then
// answers each caller. A method that returned without error has therefore
// reached the disk (with SyncAlways). Reads are answered from the cache, or
// from a read-only transaction on a miss.
//
// Where a write goes:
//
//	connection goroutines         committer goroutine (commit.go)          bbolt file
//	---------------------         -------------------------------          ----------
//	Set(k, v) -> op on queue  ->  takes every op queued (<= 1024),
//	  ... waits ...                 one read-write transaction:
//	                                  each op in arrival order        ->  "items": key -> record
//	                                  counters                        ->  "meta": CAS, items, bytes, flush
//	                                Commit: pwrite each dirty page, fdatasync,
//	                                        pwrite the meta page,   fdatasync (SyncAlways)
//	                                then the read cache (put/remove/clear)
//	  <- result  <-------------   then each waiting op, with its own result
//
// A write lands in its key's leaf page of the items bucket at once: there is
// no log in front of the B+tree, so nothing needs replaying after a crash and
// a read never looks anywhere but the cache and that bucket. The cost is one
// dirty 4 KiB leaf per written key per commit; the README's "Performance"
// section has the measurements, including those of a log bucket in front of
// the items bucket, which was tried and not kept.
//
// Items carry memcached's attributes: 32-bit flags, an absolute expiry and a
// CAS number that is unique and strictly increasing for the life of the file.
// Expired items are invisible at once; a background sweeper deletes them from
// the file in small transactions.
package storage
