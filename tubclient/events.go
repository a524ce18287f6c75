package tubclient

import "github.com/tubscope/tubscope/tubclient/snapshot/feed"

// Subscription is one subscriber's bounded queue of a tub's events: when
// it is full the oldest event is dropped and counted, and the tub never
// waits on it.
type Subscription = feed.Subscription
