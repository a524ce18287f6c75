//go:build race

package replay

// raceEnabled shrinks the streamed file: the race detector slows the
// replay about tenfold, and the bound it checks does not depend on size.
const raceEnabled = true
