package ui

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// threadCPU is the CPU time the calling OS thread has used. Benchmarks on
// a shared, loaded machine measure the other processes in wall time;
// a locked thread's CPU time measures only the work done.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// lockThread pins the benchmark goroutine so threadCPU follows it.
func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

const haveThreadCPU = true
