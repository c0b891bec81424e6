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
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"runtimelab/baselines/lab"
)

// stopTimeout bounds how long the requests in flight may take to finish after a signal.
const stopTimeout = 3 * time.Second

func main() {
	config := lab.ParseServer("go-nethttp", "net/http, a goroutine per request, the batches fetched concurrently")
	listener, err := net.Listen("tcp", config.Addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-nethttp: error: cannot listen on %s: %v\n", config.Addr, err)
		os.Exit(2)
	}
	server := &http.Server{Handler: config, ReadHeaderTimeout: 30 * time.Second}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	stopped := make(chan error, 1)
	go func() {
		<-signals
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		stopped <- server.Shutdown(ctx)
	}()
	fmt.Printf("%s%s\n", lab.ReadyPrefix, listener.Addr())
	if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "go-nethttp: error: %v\n", err)
		os.Exit(1)
	}
	if err := <-stopped; err != nil {
		fmt.Fprintf(os.Stderr, "go-nethttp: warning: requests still in flight at exit: %v\n", err)
	}
}
