package servertest

import "syscall"

// dieWithParent makes a child process die with the test process, so a test
// that is killed (by -timeout) leaves no server behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
