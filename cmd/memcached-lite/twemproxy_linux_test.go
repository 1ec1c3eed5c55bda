package main

import "syscall"

// twemproxyProcAttr makes nutcracker die with the test binary, so a test
// that is killed (by -timeout) leaves no proxy behind.
func twemproxyProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
