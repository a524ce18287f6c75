//go:build !linux

package views

import "time"

func threadCPU() time.Duration { return 0 }
func lockThread() func()       { return func() {} }

const haveThreadCPU = false
