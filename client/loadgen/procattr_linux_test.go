package loadgen

import "syscall"

// dieWithParent makes a started server die with the test binary, so a test
// that is killed (by -timeout) leaves no server behind.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
