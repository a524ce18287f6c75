package bench

import "fmt"

// rowSize is how large the storm or idle row runs under the open-file
// limit: how many clients (storm) or connections (idle) of those asked,
// and whether they live in child processes.
type rowSize struct {
	row      string // RowStorm or RowIdle
	asked, n int
	children bool // the clients run in child processes (this binary's bench-peer)
	perChild int  // storm: clients per child process
	limit    int  // RLIMIT_NOFILE in force; 0 when unknown
	reserve  int  // descriptors kept back for everything else
	need     int  // the limit that would fit every client asked
	// where says where the clients run and why, for the notes.
	where string
}

// minMeasured is the share of a row's asked size below which the row is
// not measured at all: a storm of a handful of clients says nothing about
// a storm of thousands, and would read as a result.
const minMeasured = 0.5

// measurable reports whether enough of the row fits to measure it.
func (s rowSize) measurable() bool {
	return s.n >= 1 && float64(s.n) >= minMeasured*float64(s.asked)
}

// scaled reports whether fewer than asked are measured.
func (s rowSize) scaled() bool { return s.n < s.asked }

// header is the row's size as the table's header states it.
func (s rowSize) header(name string) string {
	if !s.scaled() {
		return fmt.Sprintf("%s=%d", name, s.n)
	}
	if !s.measurable() {
		return fmt.Sprintf("%s=%d asked, not measured (%d fit)", name, s.asked, s.n)
	}
	return fmt.Sprintf("%s=%d of %d asked", name, s.n, s.asked)
}

// note says why the row is smaller than asked; "" when it is not.
func (s rowSize) note() string {
	if !s.scaled() {
		return ""
	}
	verb := "so %d were measured"
	if !s.measurable() {
		verb = "so only %d would fit: fewer than half, too few to stand for the row, which is not measured"
	}
	return fmt.Sprintf("%s: %d asked for, but RLIMIT_NOFILE is %d (the hard limit, after raising the soft one) "+
		"and %s; "+verb+". `ulimit -n %d` (or a higher hard limit) fits them all.",
		s.row, s.asked, s.limit, s.where, s.n, s.need)
}

// notMeasuredError is a row the open-file limit leaves too small.
type notMeasuredError struct{ size rowSize }

func (e notMeasuredError) Error() string {
	return fmt.Sprintf("not measured: RLIMIT_NOFILE %d fits %d of the %d asked (ulimit -n %d fits them all)",
		e.size.limit, e.size.n, e.size.asked, e.size.need)
}

// reserveFor is the descriptors kept back, under a limit, for listeners,
// pipes, the runtime and the other rows' stragglers: a quarter of the
// limit, at most fdReserve, so a small limit still leaves room to measure.
func reserveFor(limit int) int {
	return min(fdReserve, max(limit/4, 16))
}

// sizeStorm sizes row 4. In process, every client needs four descriptors
// at the height of the storm: both ends of its live connection and of the
// black-holed one its silent restart leaves open. With child processes
// (children: this binary can run its bench-peer command) the master here
// holds one per client, and each child, raising its own limit alike, two
// per client. The clients stay in process when they fit.
func sizeStorm(asked int, limit uint64, children bool) rowSize {
	s := rowSize{row: RowStorm, asked: asked, n: asked, children: children, perChild: asked}
	if limit == 0 {
		s.where = "the limit is unknown"
		return s
	}
	s.limit = int(min(limit, 1<<30))
	s.reserve = reserveFor(s.limit)
	room := s.limit - s.reserve
	if 4*asked <= room {
		s.children = false
		s.where = "every client fits in this process"
		return s
	}
	if !children {
		s.need = 4*asked + fdReserve
		s.where = fmt.Sprintf("with every client in this process each needs 4 descriptors (the clients cannot move to child processes), plus %d kept back", s.reserve)
		s.n = min(asked, max(room/4, 0))
		s.perChild = s.n
		return s
	}
	s.need = asked + fdReserve
	s.where = fmt.Sprintf("the master in this process holds one descriptor per client, plus %d kept back", s.reserve)
	s.n = min(asked, max(room, 0))
	s.perChild = max(room/2, 1)
	return s
}

// sizeIdle sizes row 5. In process both ends of each connection hold a
// descriptor here; with a child process, one end each side.
func sizeIdle(asked int, limit uint64, children bool) rowSize {
	s := rowSize{row: RowIdle, asked: asked, n: asked, children: children}
	if limit == 0 {
		s.where = "the limit is unknown"
		return s
	}
	s.limit = int(min(limit, 1<<30))
	s.reserve = reserveFor(s.limit)
	room := s.limit - s.reserve
	if !children {
		s.need = 2*asked + fdReserve
		s.where = fmt.Sprintf("with both ends in this process each connection needs 2 descriptors (the clients cannot move to a child process), plus %d kept back", s.reserve)
		s.n = min(asked, max(room/2, 0))
		return s
	}
	// Only when both ends do not fit here do the clients move out.
	if 2*asked <= room {
		s.children = false
		s.where = "both ends fit in this process"
		return s
	}
	s.need = asked + fdReserve
	s.where = fmt.Sprintf("with the clients in a child process each process holds one descriptor per connection, plus %d kept back", s.reserve)
	s.n = min(asked, max(room, 0))
	return s
}
