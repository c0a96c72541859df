// Package loadtest is a small HTTP load generator for Comandera's accept
// path: N clients, each on its own keep-alive connection, POST jobs to
// /print as fast as the server answers (a closed loop, like wrk), and the
// latency of every request is recorded.
//
// It speaks just enough HTTP/1.1 over raw TCP connections (requests written
// from prepared bytes, answers parsed by status line and Content-Length) so
// that on a small machine the load generator does not eat the CPU the
// server is being measured with; net/http's client costs several times
// more per request.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe a run.
type Options struct {
	// URL is the server's base URL (http only), e.g. http://127.0.0.1:3001.
	URL string
	// Token is sent as a bearer token when set.
	Token string
	// Clients is the number of concurrent connections; default 64.
	Clients int
	// Requests is how many jobs to submit in all; 0: until Duration.
	Requests int
	// Duration bounds the run when Requests is 0.
	Duration time.Duration
	// Bodies are the POST /print bodies, used in turn.
	Bodies [][]byte
	// Path is the route; default /print.
	Path string
	// Rate, when set, paces the run at this many requests per second in
	// all (an open loop): request n is due at start + n/Rate, and its
	// latency is counted from when it was due, so a server that falls
	// behind is not flattered by clients that wait for it.
	Rate float64
}

// Result is what a run measured.
type Result struct {
	Requests  int             // answered
	Accepted  int             // 2xx
	Statuses  map[int]int     // answers by status code
	Errors    int             // connection errors
	Elapsed   time.Duration   // from the first request to the last answer
	Latencies []time.Duration // sorted
	// Slow are the requests that took SlowThreshold or more, in the order
	// they were sent: a burst of them at one moment is a stall.
	Slow []Slow
}

// SlowThreshold is the latency from which a request is listed in
// Result.Slow.
var SlowThreshold = 10 * time.Millisecond

// Slow is one slow request: when it was sent (since the start) and how
// long it took.
type Slow struct {
	At, Latency time.Duration
}

// Rate is accepted requests per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// Percentile returns the q-th quantile (0 < q ≤ 1) of the latencies.
func (r *Result) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q * float64(len(r.Latencies)))
	return r.Latencies[min(i, len(r.Latencies)-1)]
}

func (r *Result) String() string {
	return fmt.Sprintf("%d requests, %d accepted in %s: %.0f jobs/s, latency p50 %s p99 %s p99.9 %s max %s, statuses %v, errors %d",
		r.Requests, r.Accepted, r.Elapsed.Round(time.Millisecond), r.Rate(),
		r.Percentile(0.50).Round(10*time.Microsecond), r.Percentile(0.99).Round(10*time.Microsecond),
		r.Percentile(0.999).Round(10*time.Microsecond), r.Percentile(1).Round(10*time.Microsecond), r.Statuses, r.Errors)
}

// Run submits the load and returns what it measured.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Clients <= 0 {
		o.Clients = 64
	}
	if o.Path == "" {
		o.Path = "/print"
	}
	if len(o.Bodies) == 0 {
		return nil, errors.New("loadtest: no bodies")
	}
	if o.Requests <= 0 && o.Duration <= 0 {
		return nil, errors.New("loadtest: give Requests or Duration")
	}
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("loadtest: %q: want an http:// URL", o.URL)
	}
	reqs := make([][]byte, len(o.Bodies))
	for i, b := range o.Bodies {
		var h bytes.Buffer
		fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", o.Path, u.Host, len(b))
		if o.Token != "" {
			fmt.Fprintf(&h, "Authorization: Bearer %s\r\n", o.Token)
		}
		h.WriteString("\r\n")
		h.Write(b)
		reqs[i] = h.Bytes()
	}
	conns := make([]*conn, o.Clients)
	for i := range conns {
		c, err := dial(ctx, u.Host)
		if err != nil {
			for _, c := range conns[:i] {
				c.nc.Close()
			}
			return nil, err
		}
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			c.nc.Close()
		}
	}()
	if o.Duration > 0 && o.Requests <= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var next atomic.Int64
	results := make([]clientResult, o.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.statuses = map[int]int{}
			for ctx.Err() == nil {
				n := next.Add(1)
				if o.Requests > 0 && n > int64(o.Requests) {
					return
				}
				t0 := time.Now()
				if o.Rate > 0 {
					due := start.Add(time.Duration(float64(n-1) / o.Rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					t0 = due
				}
				status, err := c.do(reqs[int(n)%len(reqs)])
				if err != nil {
					r.errors++
					c.nc.Close()
					if c, err = dial(ctx, u.Host); err != nil {
						return
					}
					conns[i] = c
					continue
				}
				r.lat = append(r.lat, time.Since(t0))
				r.at = append(r.at, t0.Sub(start))
				r.statuses[status]++
			}
		}()
	}
	wg.Wait()
	res := &Result{Elapsed: time.Since(start), Statuses: map[int]int{}}
	for _, r := range results {
		for i, at := range r.at {
			if r.lat[i] >= SlowThreshold {
				res.Slow = append(res.Slow, Slow{At: at, Latency: r.lat[i]})
			}
		}
		res.Latencies = append(res.Latencies, r.lat...)
		res.Errors += r.errors
		for s, n := range r.statuses {
			res.Statuses[s] += n
			res.Requests += n
			if s >= 200 && s < 300 {
				res.Accepted += n
			}
		}
	}
	slices.Sort(res.Latencies)
	slices.SortFunc(res.Slow, func(a, b Slow) int { return int(a.At - b.At) })
	return res, nil
}

type clientResult struct {
	at       []time.Duration // when each request was due, from the start
	lat      []time.Duration
	statuses map[int]int
	errors   int
}

type conn struct {
	nc net.Conn
	br *bufio.Reader
}

func dial(ctx context.Context, host string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}, nil
}

// do writes one request and reads its answer: the status line, the
// headers (for Content-Length) and the body.
func (c *conn) do(req []byte) (int, error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if len(h) > 16 && bytes.EqualFold(h[:15], []byte("Content-Length:")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(h[15:])))
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", h)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	if _, err := c.br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
