// go-nethttp is the Python-vs-Go article's Go server: net/http, one
// goroutine per request (the server's own), each fetching its S feature
// batches concurrently, one goroutine per batch, then preprocessing them
// inline; the Go runtime schedules every goroutine on GOMAXPROCS (--workers)
// threads and preempts one that computes too long.
//
// It prints one line, "listening on http://HOST:PORT", once it accepts
// connections, and stops on SIGINT or SIGTERM after the requests in flight.
//
// Run with: cargo run --release -- serve -e go-nethttp -w 4
package main

import (
	"runtimelab/baselines/lab"
)

func main() {
	config := lab.ParseServer("go-nethttp", "net/http, a goroutine per request, the batches fetched concurrently")
	config.Serve("go-nethttp", config)
}
