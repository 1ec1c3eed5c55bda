//go:build !linux

package main

import "syscall"

// suiteDieWithParent returns nil: only Linux can tie a child's life to its parent.
func suiteDieWithParent() *syscall.SysProcAttr { return nil }
