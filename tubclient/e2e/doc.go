// Package e2e runs the tubscope binary in a real terminal (tmux) against
// real peers, as an operator would, and reads the screen. It holds tests
// only; it lives under tubclient so it may use the internal Foolscap peers.
package e2e
