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
// Items carry memcached's attributes: 32-bit flags, an absolute expiry and a
// CAS number that is unique and strictly increasing for the life of the file.
// Expired items are invisible at once; a background sweeper deletes them from
// the file in small transactions.
package storage
