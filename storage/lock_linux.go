package storage

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder names the process that holds the lock on path: "process N"
// from /proc/locks where the system has it, "this process" when that is us
// (the file is already open in this process), else "another process".
func lockHolder(path string) string {
	const unknown = "another process"
	fi, err := os.Stat(path)
	if err != nil {
		return unknown
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return unknown
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return unknown
	}
	defer f.Close()
	// The lock's file, as /proc/locks shows it: major:minor (hex):inode.
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	id := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF
		// (a waiter's line has "->" after the number, and is skipped)
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		if fields[5] == id {
			if fields[4] == strconv.Itoa(os.Getpid()) {
				return "this process"
			}
			return "process " + fields[4]
		}
	}
	return unknown
}
