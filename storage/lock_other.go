//go:build !linux

package storage

// lockHolder names the process that holds the lock on path. Only Linux
// tells which process that is (/proc/locks); elsewhere it is "another
// process".
func lockHolder(path string) string { return "another process" }
