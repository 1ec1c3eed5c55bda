//go:build !linux

package repl_test

import "syscall"

// dieWithParent returns no attributes: only Linux has Pdeathsig.
func dieWithParent() *syscall.SysProcAttr { return nil }
