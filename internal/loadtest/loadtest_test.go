package loadtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.URL.Path != "/print" || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(b), `{"content"`) {
			http.Error(w, "bad request", 400)
			return
		}
		if n.Add(1)%10 == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"code":"queue_full","message":"full"}}`, 429)
			return
		}
		w.WriteHeader(202)
		io.WriteString(w, `{"job_id":"x","state":"queued"}`)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Token: "tok", Clients: 8, Requests: 1000,
		Bodies: [][]byte{[]byte(`{"content": "a"}`), []byte(`{"content": "b"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 1000 || res.Accepted != 900 || res.Statuses[429] != 100 || res.Errors != 0 || len(res.Latencies) != 1000 {
		t.Fatalf("%s", res)
	}
	if res.Percentile(0.5) <= 0 || res.Percentile(1) < res.Percentile(0.5) || res.Rate() <= 0 {
		t.Errorf("%s", res)
	}

	// Paced: 200 requests at 1000/s take about 0.2 s.
	start := time.Now()
	res, err = Run(context.Background(), Options{URL: srv.URL, Token: "tok", Clients: 8, Requests: 200, Rate: 1000,
		Bodies: [][]byte{[]byte(`{"content": "a"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || res.Requests != 200 {
		t.Errorf("paced run took %s: %s", d, res)
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := Run(context.Background(), Options{URL: "ftp://x", Requests: 1, Bodies: [][]byte{{}}}); err == nil {
		t.Error("ftp URL accepted")
	}
	if _, err := Run(context.Background(), Options{URL: "http://127.0.0.1:1", Requests: 1}); err == nil {
		t.Error("no bodies accepted")
	}
}
