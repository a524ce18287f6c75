// Package hostile attacks a real `tubscope serve` process the way a hostile
// or broken peer would, while a well-behaved Foolscap 21.7 client calls
// echo every 0.2 s, and checks that the server's memory stays within its
// budget and the good client misses nothing. It holds tests only.
package hostile
