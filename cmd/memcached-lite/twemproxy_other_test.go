//go:build !linux

package main

import "syscall"

// twemproxyProcAttr returns no attributes: only Linux has Pdeathsig.
func twemproxyProcAttr() *syscall.SysProcAttr { return nil }
