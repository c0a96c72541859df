package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/queue"
)

// BenchmarkAcceptInProcess is the accept path (HTTP, decoding, fsync'd
// submit) with the server in the test process, for profiling:
//
//	go test -run '^$' -bench AcceptInProcess -benchtime 20000x -cpuprofile cpu.out ./server/
//
// The figure that counts is BenchmarkServeAccept in server/e2e, against the
// real binary.
func BenchmarkAcceptInProcess(b *testing.B) {
	var hcl strings.Builder
	hcl.WriteString(`server {
  listen = "127.0.0.1:0"
  token  = "` + testToken + `"
  data_dir = "data"
}
`)
	dir := b.TempDir()
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&hcl, "printer \"p%d\" {\n  queue_limit = 1000000\n  sim { render = false }\n}\n", i)
	}
	cfg, diags := config.Parse([]byte(hcl.String()), filepath.Join(dir, "printers.hcl"))
	if diags.HasErrors() {
		b.Fatal(config.Format(diags))
	}
	svc, err := Open(context.Background(), cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close(context.Background())
	hs := httptest.NewServer(svc.Handler())
	defer hs.Close()
	const clients = 64
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	c := &http.Client{Transport: tr}
	var bodies [4][]byte
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"printer": "p%d", "content": "Mesa 12\n2x Tortilla española   17,00 €"}`, i))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				req, _ := http.NewRequest("POST", hs.URL+"/print", bytes.NewReader(bodies[n%4]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 202 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkDevicePrint is one job through the Printer seam on a sim
// printer without rendering: status (opening the connection), encoding the
// text and writing it.
//
//	go test -run '^$' -bench DevicePrint -benchmem ./server/
func BenchmarkDevicePrint(b *testing.B) {
	cfg, diags := config.Parse([]byte("printer \"p\" {\n  sim { render = false }\n}\n"), filepath.Join(b.TempDir(), "printers.hcl"))
	if diags.HasErrors() {
		b.Fatal(config.Format(diags))
	}
	d, err := newDevice(cfg.Printers[0], nil, discardLogger(), newMetrics())
	if err != nil {
		b.Fatal(err)
	}
	defer d.close()
	ctx := context.Background()
	job := &queue.Job{ID: "01M8CYMG709TJ6SZNNBSVK5XNR", Copies: 1,
		Content: "Mesa 12 · Camarero: Lucía\n2x Tortilla española   17,00 €\n1x Caña               2,50 €"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := d.Status(ctx); err != nil {
			b.Fatal(err)
		}
		if err := d.Print(ctx, job); err != nil {
			b.Fatal(err)
		}
	}
}
