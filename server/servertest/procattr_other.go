//go:build !linux

package servertest

import "syscall"

// dieWithParent returns no attributes: only Linux has Pdeathsig.
func dieWithParent() *syscall.SysProcAttr { return nil }
