package live

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/headless"
)

// ownLogport is the inspected tub's own logport, nil when not asked for.
type ownLogport struct{ l *headless.Logport }

// startLogport publishes t's events as a logport when o asks for one. Its
// FURL is printed before the screen opens (and stays in the scrollback
// after it closes); later news of the gatherer goes to the events pane.
func startLogport(t *tubclient.Tub, o headless.LogportOptions) (ownLogport, error) {
	var screenUp atomic.Bool // the gatherer's reporter may note at any time
	l, err := headless.StartLogport(t, o, func(s string) {
		if !screenUp.Load() {
			fmt.Fprintln(os.Stderr, "tubscope:", s)
			return
		}
		t.Note("", s)
	})
	screenUp.Store(true)
	return ownLogport{l}, err
}

func (o ownLogport) close() {
	if o.l != nil {
		o.l.Close()
	}
}
