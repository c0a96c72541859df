package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/comandera/comandera/config"
	_ "github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/queue"
)

const testToken = "unit-test-token"

// testHCL has two sim printers writing under OUT (replaced by a temporary
// directory) and a backend for callbacks.
const testHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + testToken + `"
  data_dir = "data"
  max_body = "64KiB"
  backends = ["https://backend.example.com/hooks/"]
}
printer "kitchen" {
  profile     = "generic-80mm"
  queue_limit = 3
  sim {
    output = "OUT/kitchen"
    render = false
  }
}
printer "bar" {
  profile = "generic-58mm"
  sim {
    output = "OUT/bar"
    render = false
  }
}
`

type testServer struct {
	t   *testing.T
	svc *Service
	url string
	dir string
	out string
}

// newTestServer starts a Service for hcl (OUT replaced by a temporary
// output directory) behind an httptest server.
func newTestServer(t *testing.T, hcl string) *testServer {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := strings.ReplaceAll(hcl, "OUT", out)
	cfg, diags := config.Parse([]byte(src), filepath.Join(dir, "printers.hcl"))
	if diags.HasErrors() {
		t.Fatalf("config: %s", config.Format(diags))
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := Open(context.Background(), cfg, Options{Logger: log, Queue: func(o *queue.Options) {
		o.SweepEvery = 50 * time.Millisecond
	}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testServer{t: t, svc: svc, url: hs.URL, dir: dir, out: out}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// request sends a request; hdr are name, value pairs (a value of "" removes
// the header). Authorization and a JSON Content-Type are set by default.
func (ts *testServer) request(method, path, body string, hdr ...string) *http.Response {
	ts.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp
}

// call sends a request and decodes the JSON answer.
func (ts *testServer) call(method, path, body string, out any, hdr ...string) (int, string) {
	ts.t.Helper()
	resp := ts.request(method, path, body, hdr...)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ts.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, string(b)
}

func (ts *testServer) fault(printer, name string, on bool) {
	ts.t.Helper()
	dir := filepath.Join(ts.out, printer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ts.t.Fatal(err)
	}
	if on {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			ts.t.Fatal(err)
		}
	} else {
		os.Remove(filepath.Join(dir, name))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
