package lab

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReadyPrefix starts the one readiness line a server prints on stdout; HOST:PORT follows it.
const ReadyPrefix = "listening on http://"

// stopTimeout bounds how long the requests in flight may take to finish after a signal.
const stopTimeout = 3 * time.Second

// Serve is a server baseline's life: listen on s.Addr, print the readiness
// line, serve with handler until SIGINT or SIGTERM, then let the requests
// in flight finish (for up to stopTimeout) and return. name prefixes its
// errors; a failure to listen exits 2, a failure to serve exits 1.
func (s *Server) Serve(name string, handler http.Handler) {
	listener, err := net.Listen("tcp", s.Addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: error: cannot listen on %s: %v\n", name, s.Addr, err)
		os.Exit(2)
	}
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	stopped := make(chan error, 1)
	go func() {
		<-signals
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		stopped <- server.Shutdown(ctx)
	}()
	fmt.Printf("%s%s\n", ReadyPrefix, listener.Addr())
	if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
	if err := <-stopped; err != nil {
		fmt.Fprintf(os.Stderr, "%s: warning: requests still in flight at exit: %v\n", name, err)
	}
}

// Server is the flags of `runtime-lab serve`, parsed and checked: where to
// listen, and the workload of one request, whose batches are the fan-out.
type Server struct {
	Addr     string
	Workload *Workload
	// ioStore and ioCache are /io's two upstreams: the workload with no
	// kernel rounds, and the same with a tenth of the delay for the cache.
	ioStore, ioCache *Workload
}

// CacheDelayMs is the delay of /io's second upstream, the cache: a tenth of the store's.
func CacheDelayMs(ioMs int) int { return ioMs / 10 }

// ParseServer parses serve's flags (exit 2 on bad input), calibrates the
// kernel for --cpu-ms spread over the request's batches, sets GOMAXPROCS to
// --workers, and builds the HTTP client of the upstream.
func ParseServer(name, description string) *Server {
	flags := flag.NewFlagSet(name, flag.ExitOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "%s: %s\n\nUsage of %s:\n", name, description, name)
		flags.PrintDefaults()
	}
	s := &Server{Workload: &Workload{Retries: 2, Pooled: true}}
	w := s.Workload
	var connections string
	var version bool
	flags.IntVar(&w.Workers, "workers", runtime.NumCPU(), "GOMAXPROCS: OS threads that run goroutines at once")
	flags.StringVar(&s.Addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	flags.IntVar(&w.Batches, "fanout", 1, "feature batches fetched per request")
	flags.IntVar(&w.IOMs, "io-ms", 20, "the feature store answers each fetch after this many milliseconds")
	flags.Float64Var(&w.CPUMs, "cpu-ms", 5, "calibrated single-core CPU time per request, spread over its batches")
	flags.IntVar(&w.Features, "features", 1024, "feature values per batch")
	flags.StringVar(&connections, "connections", "pooled", "connections to the upstream: pooled (keep-alive) or fresh")
	flags.StringVar(&w.Upstream, "upstream", "", "base URL of a running feature store, or any URL with {id} in it")
	flags.BoolVar(&version, "version", false, "print the Go version and exit")
	_ = flags.Parse(os.Args[1:]) // ExitOnError: a bad flag exits with status 2
	if version {
		fmt.Println(runtime.Version())
		os.Exit(0)
	}
	usage := usageError(name)
	switch {
	case w.Batches < 1 || w.Batches > 1024:
		usage("--fanout must be between 1 and 1024")
	case w.IOMs < 0 || w.IOMs > 60000:
		usage("--io-ms must be between 0 and 60000")
	case !(w.CPUMs >= 0 && w.CPUMs <= 60000):
		usage("--cpu-ms must be between 0 and 60000")
	case w.Features < 1 || w.Features > 100000:
		usage("--features must be between 1 and 100000")
	case w.Workers < 1 || w.Workers > 4096:
		usage("--workers must be between 1 and 4096")
	case connections != "fresh" && connections != "pooled":
		usage("--connections must be fresh or pooled, got %q", connections)
	case w.Upstream == "":
		usage("--upstream is required: a running feature store, or any URL with {id} in it")
	case !strings.HasPrefix(w.Upstream, "http://"):
		usage("--upstream %q: only plain http:// upstreams are supported", w.Upstream)
	}
	exitWithParent()
	w.Pooled = connections == "pooled"
	w.FeatureStore = !strings.Contains(w.Upstream, "{id}")
	// --cpu-ms is per request; each batch burns its share, as in the Rust servers.
	w.CPUMs /= float64(w.Batches)
	w.TimeoutMs = 2*w.IOMs + 2000 + int(math.Ceil(float64(w.Batches)*w.CPUMs))
	if w.CPUMs > 0 {
		w.CPURounds = uint64(math.Max(1, math.Round(w.CPUMs*Calibrate(w.Features))))
	}
	runtime.GOMAXPROCS(w.Workers)
	w.client = newClient(w)
	// Every request in flight may park its connections for the next one.
	w.client.Transport.(*http.Transport).MaxIdleConnsPerHost = 4096
	store, cache := *w, *w
	store.CPURounds, cache.CPURounds = 0, 0
	cache.IOMs = CacheDelayMs(w.IOMs)
	s.ioStore, s.ioCache = &store, &cache
	return s
}

// The scenarios' routes, the same as the Rust servers' (crates/pipeline/src/serve.rs):
//
//	GET /ping          {"ping":"pong"}: no fetch, no CPU
//	GET /fib?n=N       {"n":N,"fib":F}: the naive recursive Fibonacci, 0 <= N <= 40
//	GET /io?id=N       {"id":N,"digest":"<16 hex>"}: batch N from the store and
//	                   batch N+1 from the cache (the same store, a tenth of the
//	                   delay), fetched at once, no kernel rounds
//	GET /predict?id=N  {"id":N,"digest":"<16 hex>","batches":S}: today's mix
//	GET /health        {"status":"ok"}
//
// Any other path answers 404 {"error":"not found"}, a bad parameter 400, a
// method other than GET 405.

// MaxFibN is the largest n that /fib takes.
const MaxFibN = 40

// NotFound is the error of a path that no route serves.
const NotFound = "not found"

// Route is one GET route: its path, and its answer to a query string (the
// status and a body to encode as JSON). go-nethttp and go-gin serve the
// same routes from Server.Routes, each with its own router.
type Route struct {
	Path   string
	Answer func(query url.Values) (int, interface{})
}

// Routes is every route of the servers, in the table's order.
func (s *Server) Routes() []Route {
	return []Route{
		{"/ping", func(url.Values) (int, interface{}) { return http.StatusOK, pingAnswer{Ping: "pong"} }},
		{"/fib", s.fib},
		{"/io", s.io},
		{"/predict", s.predict},
		{"/health", func(url.Values) (int, interface{}) { return http.StatusOK, map[string]string{"status": "ok"} }},
	}
}

// MethodNotAllowed is the error of a route asked with another method than GET.
func MethodNotAllowed(path, method string) map[string]string {
	return map[string]string{"error": fmt.Sprintf("%s takes GET, not %s", path, method)}
}

type pingAnswer struct {
	Ping string `json:"ping"`
}

type fibAnswer struct {
	N   uint64 `json:"n"`
	Fib uint64 `json:"fib"`
}

type ioAnswer struct {
	ID     uint64 `json:"id"`
	Digest string `json:"digest"`
}

// prediction is the body of a /predict answer, in the Rust servers' key order.
type prediction struct {
	ID      uint64 `json:"id"`
	Digest  string `json:"digest"`
	Batches int    `json:"batches"`
}

// ServeHTTP routes each request to one of Routes with net/http's own
// request, as go-nethttp serves them.
func (s *Server) ServeHTTP(response http.ResponseWriter, request *http.Request) {
	path := request.URL.Path
	for _, route := range s.Routes() {
		if route.Path != path {
			continue
		}
		if request.Method != http.MethodGet {
			answer(response, http.StatusMethodNotAllowed, MethodNotAllowed(path, request.Method))
			return
		}
		status, body := route.Answer(request.URL.Query())
		answer(response, status, body)
		return
	}
	answer(response, http.StatusNotFound, map[string]string{"error": NotFound})
}

// Fib is the n-th Fibonacci number by the naive recursion, the article's
// CPU row: the same calls and additions as the Rust and Python servers make.
func Fib(n uint64) uint64 {
	if n < 2 {
		return n
	}
	return Fib(n-1) + Fib(n-2)
}

// fib answers /fib?n=N on this goroutine: the CPU work.
func (s *Server) fib(query url.Values) (int, interface{}) {
	values, present := query["n"]
	if !present {
		return http.StatusBadRequest, map[string]string{"error": "missing ?n=N"}
	}
	n, err := strconv.ParseUint(values[0], 10, 64)
	if err != nil || n > MaxFibN {
		return http.StatusBadRequest, map[string]string{
			"error": fmt.Sprintf("n %q is not an integer from 0 to %d", values[0], MaxFibN)}
	}
	return http.StatusOK, fibAnswer{N: n, Fib: Fib(n)}
}

// requestID is the id of ?id=N, or the 400 answer; ids up to id*span+span must fit a uint64.
func requestID(query url.Values, span uint64) (uint64, map[string]string) {
	values, present := query["id"]
	if !present {
		return 0, map[string]string{"error": "missing ?id=N"}
	}
	id, err := strconv.ParseUint(values[0], 10, 64)
	if err != nil {
		return 0, map[string]string{"error": fmt.Sprintf("id %q is not a non-negative integer", values[0])}
	}
	if id > (math.MaxUint64-span)/span {
		return 0, map[string]string{"error": fmt.Sprintf("id %d is too large", id)}
	}
	return id, nil
}

// io answers /io?id=N: batch N from the store and batch N+1 from the
// cache, the cache's on a goroutine of its own, then their digests.
func (s *Server) io(query url.Values) (int, interface{}) {
	id, refused := requestID(query, 1)
	if refused != nil {
		return http.StatusBadRequest, refused
	}
	ids := []uint64{id, id + 1}
	bodies := make([][]byte, 2)
	errs := make([]error, 2)
	var cached sync.WaitGroup
	cached.Add(1)
	go func() {
		defer cached.Done()
		bodies[1], _, errs[1] = s.ioCache.Fetch(ids[1])
	}()
	bodies[0], _, errs[0] = s.ioStore.Fetch(ids[0])
	cached.Wait()
	digest, failed := digestOf(s.ioStore, ids, bodies, errs)
	if failed != nil {
		return http.StatusBadGateway, failed
	}
	return http.StatusOK, ioAnswer{ID: id, Digest: digest}
}

// predict answers /predict?id=N.
func (s *Server) predict(query url.Values) (int, interface{}) {
	id, refused := requestID(query, uint64(s.Workload.Batches))
	if refused != nil {
		return http.StatusBadRequest, refused
	}
	return s.Predict(id)
}

// Predict fetches the request's batches N*S .. N*S+S concurrently, one
// goroutine each, then preprocesses them on this goroutine: the answer's
// status and body.
func (s *Server) Predict(id uint64) (int, interface{}) {
	w := s.Workload
	first := id * uint64(w.Batches)
	ids := make([]uint64, w.Batches)
	bodies := make([][]byte, w.Batches)
	errs := make([]error, w.Batches)
	var fetched sync.WaitGroup
	for i := range bodies {
		ids[i] = first + uint64(i)
		fetched.Add(1)
		go func(i int) {
			defer fetched.Done()
			bodies[i], _, errs[i] = w.Fetch(ids[i])
		}(i)
	}
	fetched.Wait()
	digest, failed := digestOf(w, ids, bodies, errs)
	if failed != nil {
		return http.StatusBadGateway, failed
	}
	return http.StatusOK, prediction{ID: id, Digest: digest, Batches: w.Batches}
}

// digestOf preprocesses each fetched batch with w's rounds and combines
// their digests into the 16 hex digits of an answer, or gives the error
// that names the first batch that failed.
func digestOf(w *Workload, ids []uint64, bodies [][]byte, errs []error) (string, map[string]string) {
	digests := make([]uint64, 0, len(ids))
	for i, batch := range ids {
		err := errs[i]
		var digest uint64
		if err == nil {
			digest, _, err = w.Preprocess(batch, bodies[i])
		}
		if err != nil {
			return "", map[string]string{"error": fmt.Sprintf("batch %d: %s", batch, err)}
		}
		digests = append(digests, digest)
	}
	return fmt.Sprintf("%016x", CombineDigests(digests)), nil
}

func answer(response http.ResponseWriter, status int, body interface{}) {
	encoded, err := json.Marshal(body)
	if err != nil {
		status, encoded = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	response.Header().Set("Content-Type", "application/json")
	response.WriteHeader(status)
	_, _ = response.Write(encoded)
}
