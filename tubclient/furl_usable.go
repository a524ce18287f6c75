package tubclient

import "fmt"

// Usable reports whether the FURL has a hint this tub can dial.
func (f FURL) Usable() error {
	if len(f.Hints) == 0 {
		return fmt.Errorf("no location hints for tub %s", f.TubID)
	}
	return nil
}
