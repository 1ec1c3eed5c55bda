//go:build unix

package server

import "syscall"

// cpuTimes returns the user and system CPU time the process has used.
func cpuTimes() (utime, stime syscall.Timeval) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime, ru.Stime
}
