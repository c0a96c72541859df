package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
printer "kitchen" {
  profile       = "generic-80mm"
  queue_limit   = 100000
  retry_backoff = "50ms"
  retry_max     = "200ms"
  sim {
    output = "OUT/kitchen"
    render = false
  }
}
printer "bar" {
  profile       = "generic-58mm"
  queue_limit   = 100000
  retry_backoff = "50ms"
  retry_max     = "200ms"
  sim {
    output = "OUT/bar"
    render = false
  }
}
`

// submission is one POST /print a crash-test client made.
type submission struct {
	printer, key, text string
	id                 string // the job ID a 2xx answer gave
}

// TestCrash kills the server with SIGKILL repeatedly while clients submit
// jobs, some with idempotency keys, and retries after each kill what it
// did not hear back about. After a last restart every job that was answered
// 202 must print, no job may print twice except as a ticket marked
// REPRINT, and every idempotent retry must have returned the first job.
func TestCrash(t *testing.T) {
	rounds, clients := 6, 4
	if testing.Short() {
		rounds = 3
	}
	e := newEnv(t, crashHCL)
	var (
		mu       sync.Mutex
		accepted []submission          // answered 2xx
		byKey    = map[string]string{} // key → job ID first answered
		unsure   []submission          // no answer: the kill cut the request
		retried  int                   // idempotent retries that returned the first job
		seq      int
	)
	submit := func(p *proc, s submission) (submission, bool, error) {
		body := map[string]any{"printer": s.printer, "content": s.text}
		if s.key != "" {
			body["idempotency_key"] = s.key
		}
		var j job
		st, raw, err := p.try("POST", "/print", body, &j)
		if err != nil {
			return s, false, err
		}
		if st != http.StatusAccepted && st != http.StatusOK {
			return s, false, fmt.Errorf("POST /print: %d %s", st, raw)
		}
		s.id = j.ID
		return s, j.Existed, nil
	}
	// record notes an answered submission and checks its key.
	record := func(s submission, existed bool) {
		mu.Lock()
		defer mu.Unlock()
		if s.key != "" {
			if first, ok := byKey[s.key]; ok {
				if first != s.id || !existed {
					t.Errorf("retry with key %s returned job %s (existed %v), want the first job %s", s.key, s.id, existed, first)
				}
				retried++
				return
			}
			byKey[s.key] = s.id
		}
		accepted = append(accepted, s)
	}

	var p *proc
	for round := 0; round <= rounds; round++ {
		p = e.start("-log-level", "warn")
		// Retry what the last kill left unanswered, and some answered
		// keyed jobs: the key must return the same job.
		mu.Lock()
		retry := unsure
		unsure = nil
		for i := 0; i < len(accepted) && i < 20; i++ {
			if s := accepted[len(accepted)-1-i]; s.key != "" {
				retry = append(retry, submission{printer: s.printer, key: s.key, text: s.text})
			}
		}
		mu.Unlock()
		for _, s := range retry {
			if s.key == "" {
				continue // no key: the client cannot know; that job may print once or not at all
			}
			got, existed, err := submit(p, s)
			if err != nil {
				t.Fatalf("retry after restart: %v", err)
			}
			record(got, existed)
		}
		if round == rounds {
			break
		}
		// Clients submit until the kill.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					seq++
					s := submission{printer: []string{"kitchen", "bar"}[n%2], text: fmt.Sprintf("crash job %d-%d-%d", round, c, seq)}
					if n%3 != 0 {
						s.key = fmt.Sprintf("key-%d-%d-%d", round, c, n)
					}
					mu.Unlock()
					got, existed, err := submit(p, s)
					if err != nil {
						if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "EOF") ||
							strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "refused") {
							mu.Lock()
							unsure = append(unsure, s)
							mu.Unlock()
							return
						}
						t.Errorf("client %d: %v", c, err)
						return
					}
					record(got, existed)
				}
			}(c)
		}
		time.Sleep(time.Duration(150+rand.IntN(250)) * time.Millisecond)
		p.kill()
		close(stop)
		wg.Wait()
	}

	// The last server is running: every accepted job must print.
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range accepted {
		for {
			var j job
			st, body := p.do("GET", "/jobs/"+s.id, nil, &j)
			if st != 200 {
				t.Fatalf("GET /jobs/%s: %d %s", s.id, st, body)
			}
			if j.State == "printed" {
				break
			}
			if j.State != "queued" && j.State != "printing" || time.Now().After(deadline) {
				t.Fatalf("job %s (%s) is %s: %s", s.id, s.text, j.State, j.LastError)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}

	// The tickets: each accepted job printed, at most once unmarked.
	tks := append(tickets(t, e.out+"/kitchen"), tickets(t, e.out+"/bar")...)
	byJob := map[string][]ticket{}
	for _, tk := range tks {
		byJob[tk.Job] = append(byJob[tk.Job], tk)
	}
	reprints := 0
	for id, list := range byJob {
		plain := 0
		for _, tk := range list {
			if strings.Contains(tk.Text, "REPRINT") {
				reprints++
			} else {
				plain++
			}
		}
		if plain > 1 {
			t.Errorf("job %s printed %d times without a REPRINT mark", id, plain)
		}
	}
	for _, s := range accepted {
		list := byJob[s.id]
		if len(list) == 0 {
			t.Errorf("job %s (%s) was accepted but has no ticket", s.id, s.text)
			continue
		}
		for _, tk := range list {
			if !strings.Contains(tk.Text, s.text) {
				t.Errorf("ticket %s of job %s does not say %q:\n%s", tk.Name, s.id, s.text, tk.Text)
			}
		}
	}
	t.Logf("%d rounds: %d jobs accepted, %d idempotent retries returned the first job, %d tickets, %d marked REPRINT",
		rounds, len(accepted), retried, len(tks), reprints)
}
