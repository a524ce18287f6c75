package flogapp

import "github.com/tubscope/tubscope/tubclient/snapshot/feed"

// Feed is one subscriber's bounded queue of a watched tub's events: when it
// is full the oldest are dropped and counted, as a live tub's are.
type Feed = feed.Subscription
