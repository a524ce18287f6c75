package replay

import "github.com/tubscope/tubscope/tubclient/snapshot/feed"

// Subscription is one subscriber's bounded queue of reconstructed events,
// with the same contract as a live tub's: the oldest are dropped, and
// counted, when it is full.
type Subscription = feed.Subscription
