// Package scenario holds the duplicate-connection scenario suite: two or
// three tubs on an in-memory network inside testing/synctest bubbles, each
// scenario run under every negotiation policy with its expected verdicts
// and time bounds. The package has no non-test code beyond this comment.
package scenario
