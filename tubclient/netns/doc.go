// Package netns holds the real-network restart test: two network
// namespaces joined by a veth pair, a server in one and a client in the
// other, the client's established flow black-holed by a firewall rule in
// both directions, the client SIGKILLed and restarted with the same key,
// and the time to its first successful call measured. It runs tubscope
// against tubscope and against Foolscap 21.7 in both roles. The package has
// no code of its own; the test needs root (CI runs it as root).
package netns
