package storm

import "github.com/tubscope/tubscope/tubclient/snapshot/feed"

// Feed is one subscriber's bounded queue of a storm's events: when it is
// full the oldest are dropped and counted.
type Feed = feed.Subscription
