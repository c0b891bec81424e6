// go-gin is the Python-vs-Go article's Go server itself: Gin (Debian's
// golang-github-gin-gonic-gin-dev, built in GOPATH mode), on net/http's
// server, one goroutine per request. Its router serves the same routes as
// go-nethttp (lab.Server.Routes: /ping, /fib, /io, /predict, /health), each
// fetching and computing as go-nethttp does; what differs is Gin's router,
// context and JSON rendering, the framework's own cost per request.
//
// It prints one line, "listening on http://HOST:PORT", once it accepts
// connections, and stops on SIGINT or SIGTERM after the requests in flight.
//
// Build with scripts/baselines/install; run with:
// cargo run --release -- serve -e go-gin -w 4
package main

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"runtimelab/baselines/lab"
)

func main() {
	config := lab.ParseServer("go-gin", "Gin on net/http, a goroutine per request, the batches fetched concurrently")
	config.Serve("go-gin", router(config))
}

// router is a Gin engine with config's routes, as a production Gin app
// is set up: release mode (no debug lines on stdout, whose first line is
// the readiness line), panics recovered into a 500, no request log.
func router(config *lab.Server) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.Use(gin.Recovery())
	// As the Rust servers: /ping/ is not /ping (no redirect), another
	// method than GET is a 405, not a 404.
	engine.RedirectTrailingSlash = false
	engine.HandleMethodNotAllowed = true
	for _, route := range config.Routes() {
		engine.GET(route.Path, handler(route.Answer))
	}
	engine.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": lab.NotFound})
	})
	engine.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, lab.MethodNotAllowed(c.Request.URL.Path, c.Request.Method))
	})
	return engine
}

// handler answers a route's query with Gin's JSON rendering.
func handler(answer func(url.Values) (int, interface{})) gin.HandlerFunc {
	return func(c *gin.Context) {
		status, body := answer(c.Request.URL.Query())
		c.JSON(status, body)
	}
}
