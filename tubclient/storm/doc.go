// Package storm stages a reconnect storm against any Foolscap tub (a
// Foolscap 21.7 queen, a staging introducer, `tubscope serve` under any
// policy) and measures what the queen decides: `tubscope storm FURL`.
//
// Run starts N client tubs spread over child processes (RunChild, the
// hidden storm-child subcommand), as many per process as the open-file
// limit allows once its soft limit is raised to the hard one. Each client
// connects, calls echo when the target has one (else a bare getReference
// is its success) and holds its connection. Then, each round, a Fault
// strikes every client at once or at a rate, and each client retries with
// Foolscap's reconnector backoff until it has called successfully again.
//
// What a storm counts, per client and round:
//
//   - back: its first successful call after its fault came within the
//     window (Options.Window, --window, default 60 s, counted from that
//     client's fault); its recovery is the time from the fault to that call.
//   - locked out: it was not back when its window closed; it was locked out
//     from the queen's first refusal of its offers (or from its fault, if
//     the queen never refused one) until then.
//   - rejects: offers the queen refused, by the text it sent
//     (NegotiationError.Remote) and what the offer carried. A slave receives
//     only the master's text, "Duplicate connection" for every duplicate
//     rule; the Foolscap 21.7 rule that refuses such an offer is named
//     beside it, as a reading, since a queen with other rules sends the
//     same text.
//   - flaps: once back, its connection was lost again, without a fault,
//     before the round ended. A round ends when every client is back or
//     past its window and, if all came back, Options.Hold (--hold) after
//     the last did; the window caps it.
//
// A storm only targets loopback, private, unique-local and link-local
// addresses (and names resolving only to those) unless the operator owns
// the target (--i-own-this-target); every dial is checked again as it is
// made. It caps its clients (MaxClients), its windows and its run
// (Options.Timeout), says what it will do before it starts (Plan), and
// ends every child process: their stdin closes when the run ends, the
// kernel kills them if the parent dies (even by SIGKILL), and each runs
// in a process group of its own that is killed if it lingers.
package storm
