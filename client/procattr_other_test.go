//go:build !linux

package client_test

import "syscall"

// dieWithParent is a no-op where Pdeathsig does not exist.
func dieWithParent() *syscall.SysProcAttr { return nil }
