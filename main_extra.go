package main

import "errors"

func runDemo([]string) error    { return errors.New("demo: not built yet") }
func runInspect([]string) error { return errors.New("inspect: not built yet") }
func runBench([]string) error   { return errors.New("bench: not built yet") }
