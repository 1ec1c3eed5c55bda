package suite

import "syscall"

// dieWithParent makes a server the suite started die with it, so a suite
// that is killed (not just interrupted) leaves no server behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
