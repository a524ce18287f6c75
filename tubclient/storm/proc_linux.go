package storm

import "syscall"

// childAttr puts a client process in a process group of its own (so the
// group can be killed whole, and a terminal's ^C reaches only the parent,
// which cleans up) and has the kernel kill it if the parent dies, even by
// SIGKILL.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
