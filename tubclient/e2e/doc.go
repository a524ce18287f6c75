// Package e2e runs the tubscope binary as an operator would and checks
// what they see: the command line (exit status, help, README's flag
// tables), and the inspector in a real terminal (tmux) against real peers.
// It holds tests only; it lives under tubclient so it may use the internal
// Foolscap peers.
package e2e
