package repl_test

import "syscall"

// dieWithParent makes a started process die with the test binary, so a test
// that is killed (by -timeout) leaves no server behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
