//go:build !unix

package server

import "syscall"

// cpuTimes returns zero times: without getrusage, stats reports
// rusage_user and rusage_system as 0.
func cpuTimes() (utime, stime syscall.Timeval) { return }
