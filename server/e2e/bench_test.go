package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/comandera/comandera/internal/loadtest"
)

// loadPrinters is how many sim printers the load benchmark spreads jobs
// over.
const loadPrinters = 4

// loadHCL: sim printers in no-render mode keeping tickets in memory (no
// files), queues large enough that accepting is never refused with 429.
func loadHCL(paused bool) string {
	var b strings.Builder
	b.WriteString(`
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
`)
	for i := 0; i < loadPrinters; i++ {
		out := ""
		if paused {
			out = fmt.Sprintf("output = \"OUT/p%d\"", i)
		}
		fmt.Fprintf(&b, `
printer "p%d" {
  queue_limit = 1000000
  sim {
    render = false
    %s
  }
}
`, i, out)
	}
	return b.String()
}

// BenchmarkServeAccept measures POST /print against `comandera serve` with
// 64 concurrent clients over keep-alive connections (internal/loadtest):
// each answered job is fsync'd. "max" submits as fast as the server
// answers; "rate=5000" offers 5,000 jobs/s and counts each latency from
// when the request was due; "paused" has the printers out of paper, so
// nothing prints while jobs are accepted; "access-log" logs every request
// (to a pipe). It reports accepted jobs per second, the p50
// and p99 accept latency, and the server's RSS after the run:
//
//	go test -run '^$' -bench ServeAccept -benchtime 30000x ./server/e2e/
func BenchmarkServeAccept(b *testing.B) {
	b.Run("max", func(b *testing.B) { benchAccept(b, 0, false) })
	b.Run("access-log/max", func(b *testing.B) { benchAccept(b, 0, false, "-log-level", "info") })
	b.Run("rate=5000", func(b *testing.B) { benchAccept(b, 5000, false) })
	b.Run("paused/max", func(b *testing.B) { benchAccept(b, 0, true) })
	b.Run("paused/rate=5000", func(b *testing.B) { benchAccept(b, 5000, true) })
}

// benchAccept runs one load. The access log is off (-log-level warn)
// unless args say otherwise.
func benchAccept(b *testing.B, rate float64, paused bool, args ...string) {
	const clients = 64
	e := newEnv(b, loadHCL(paused))
	if paused {
		for i := 0; i < loadPrinters; i++ {
			dir := fmt.Sprintf("%s/p%d", e.out, i)
			os.MkdirAll(dir, 0o755)
			os.WriteFile(dir+"/PAPER_OUT", nil, 0o644)
		}
	}
	p := e.start(append([]string{"-log-level", "warn"}, args...)...)
	bodies := make([][]byte, loadPrinters)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"printer": "p%d", "content": "Mesa 12 · Camarero: Lucía\n2x Tortilla española   17,00 €\n1x Caña               2,50 €"}`, i))
	}
	ctx := context.Background()
	// Warm up: connections, the database's first pages.
	if _, err := loadtest.Run(ctx, loadtest.Options{URL: p.url, Token: token, Clients: clients, Requests: 2000, Bodies: bodies}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := loadtest.Run(ctx, loadtest.Options{URL: p.url, Token: token, Clients: clients, Requests: b.N, Bodies: bodies, Rate: rate})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Accepted != b.N || res.Errors > 0 {
		b.Fatalf("%s", res)
	}
	b.ReportMetric(res.Rate(), "jobs/s")
	b.ReportMetric(float64(res.Percentile(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(res.Percentile(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(0, "ns/op")
	if rss, err := vmRSS(p.cmd.Process.Pid); err == nil {
		b.ReportMetric(float64(rss)/1024, "rss_after_MB")
	}
	b.Log(res)
	p.stop()
}

// BenchmarkServeIdleRSS starts `comandera serve` with the load
// configuration, lets it settle for 5 s and reports its resident memory
// (VmRSS). It measures once, whatever b.N:
//
//	go test -run '^$' -bench ServeIdleRSS ./server/e2e/
func BenchmarkServeIdleRSS(b *testing.B) {
	for range 1 {
		e := newEnv(b, loadHCL(false))
		p := e.start()
		// Touch the API once, as a health check would.
		resp, err := http.Get(p.url + "/health")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(5 * time.Second)
		rss, err := vmRSS(p.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rss)/1024, "idle_RSS_MB")
		p.stop()
	}
	b.ReportMetric(0, "ns/op")
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
