package main

import "syscall"

// suiteDieWithParent makes a server the suite started die with it, so a suite
// that is killed (not just interrupted) leaves no server behind.
func suiteDieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
