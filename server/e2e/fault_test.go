package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const faultHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
printer "kitchen" {
  fallback       = "bar"
  failover_after = "1s"
  retry_backoff  = "100ms"
  retry_max      = "200ms"
  sim {
    output = "OUT/kitchen"
    render = false
  }
}
printer "bar" {
  sim {
    output = "OUT/bar"
    render = false
  }
}
printer "pass" {
  retry_backoff = "100ms"
  retry_max     = "200ms"
  sim {
    output = "OUT/pass"
    render = false
  }
}
printer "flaky" {
  retry_backoff = "100ms"
  retry_max     = "200ms"
  sim {
    output           = "OUT/flaky"
    render           = false
    disconnect_after = 20
  }
}
`

// TestFaults drives the sim's fault files through the real binary.
func TestFaults(t *testing.T) {
	e := newEnv(t, faultHCL)
	for _, d := range []string{"kitchen", "bar", "pass", "flaky"} {
		if err := os.MkdirAll(filepath.Join(e.out, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fault := func(printer, name string, on bool) {
		t.Helper()
		f := filepath.Join(e.out, printer, name)
		if on {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	p := e.start()

	t.Run("offline printer fails over to its fallback", func(t *testing.T) {
		fault("kitchen", "OFFLINE", true)
		defer fault("kitchen", "OFFLINE", false)
		var j job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "kitchen", "content": "Para la cocina caída"}, &j); st != 202 {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		// The printer is seen offline while the worker retries it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			var ps struct {
				Printers []struct {
					Name      string
					State     string
					LastError string `json:"last_error"`
				}
			}
			p.do("GET", "/printers", nil, &ps)
			if ps.Printers[0].State == "offline" && strings.Contains(ps.Printers[0].LastError, "OFFLINE") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kitchen not reported offline: %+v", ps.Printers[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
		var h map[string]any
		p.do("GET", "/health", nil, &h)
		if h["status"] != "degraded" || !strings.Contains(h["message"].(string), "kitchen is offline") {
			t.Errorf("health while kitchen is offline: %v", h)
		}
		got := p.waitState(j.ID, "printed", 10*time.Second)
		if got.Printer != "bar" || got.FailedOverFrom != "kitchen" {
			t.Errorf("job printed on %s (failed over from %q), want bar from kitchen", got.Printer, got.FailedOverFrom)
		}
		if txt := waitTicket(t, filepath.Join(e.out, "bar"), j.ID); !strings.Contains(txt, "Para la cocina caída") {
			t.Errorf("bar's ticket: %q", txt)
		}
		if _, err := os.Stat(filepath.Join(e.out, "kitchen", j.ID+".txt")); err == nil {
			t.Error("the offline printer printed the job too")
		}
	})

	t.Run("a dropped link is retried", func(t *testing.T) {
		var j job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "flaky", "content": "Primera línea\nSegunda línea\nTercera línea"}, &j); st != 202 {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		got := p.waitState(j.ID, "printed", 10*time.Second)
		if got.Attempts != 2 {
			t.Errorf("attempts %d, want 2 (the first write lost the link)", got.Attempts)
		}
	})

	t.Run("paper out: the job waits and resumes", func(t *testing.T) {
		fault("pass", "PAPER_OUT", true)
		var j job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "pass", "content": "Espera al papel"}, &j); st != 202 {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		time.Sleep(1500 * time.Millisecond)
		var now job
		p.do("GET", "/jobs/"+j.ID, nil, &now)
		if now.State != "queued" {
			t.Fatalf("with the paper out the job is %s, want queued", now.State)
		}
		var ps struct {
			Printers []struct{ Name, State string }
		}
		p.do("GET", "/printers", nil, &ps)
		if ps.Printers[2].Name != "pass" || ps.Printers[2].State != "paper_out" {
			t.Errorf("printer state %+v, want pass paper_out", ps.Printers[2])
		}
		fault("pass", "PAPER_OUT", false)
		got := p.waitState(j.ID, "printed", 10*time.Second)
		if got.Attempts != 1 {
			t.Errorf("attempts %d, want 1: waiting for paper spends none", got.Attempts)
		}
		waitTicket(t, filepath.Join(e.out, "pass"), j.ID)
	})

	t.Run("an expired job is not printed", func(t *testing.T) {
		fault("pass", "PAPER_OUT", true)
		var j job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "pass", "content": "Demasiado tarde", "expires_in": "1s"}, &j); st != 202 {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		got := p.waitState(j.ID, "expired", 10*time.Second)
		if got.Attempts != 0 {
			t.Errorf("attempts %d", got.Attempts)
		}
		fault("pass", "PAPER_OUT", false)
		// A job queued after it prints; the expired one never does.
		var next job
		p.do("POST", "/print?wait=10s", map[string]any{"printer": "pass", "content": "A tiempo"}, &next)
		if next.State != "printed" {
			t.Fatalf("the next job is %s", next.State)
		}
		if _, err := os.Stat(filepath.Join(e.out, "pass", j.ID+".txt")); err == nil {
			t.Error("the expired job was printed")
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
