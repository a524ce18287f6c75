//go:build !linux

package storm

import "syscall"

// childAttr puts a client process in a process group of its own. Without
// Linux's parent-death signal, a child of a killed parent ends when its
// stdin closes.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
