//go:build !linux

package ui

import "time"

func threadCPU() time.Duration { return 0 }
func lockThread() func()       { return func() {} }

const haveThreadCPU = false
