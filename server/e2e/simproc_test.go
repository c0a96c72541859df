package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// simProc is a running `comandera sim`: a simulated printer in its own
// process, on a loopback TCP port or a pseudo-terminal.
type simProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  string // its -out directory
	addr string // what its first stdout line names: the address or the pty path
	done chan struct{}

	mu  sync.Mutex
	log bytes.Buffer
}

// startSim runs `comandera sim ARGS -out OUT` and waits for the line that
// names where it listens (`listening on ADDR` with -listen, the pty's path
// with -pty). It is stopped with SIGTERM when the test ends.
func startSim(t testing.TB, out string, args ...string) *simProc {
	t.Helper()
	cmd := exec.Command(bin, append(append([]string{"sim"}, args...), "-out", out)...)
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &simProc{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	first := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		wg.Wait()
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("sim %v log:\n%s", args, s.logs())
		}
	})
	select {
	case line := <-first:
		s.addr = strings.TrimPrefix(line, "listening on ")
	case <-s.done:
		t.Fatalf("comandera sim %v exited before it was ready:\n%s", args, s.logs())
	case <-time.After(15 * time.Second):
		t.Fatalf("comandera sim %v not ready within 15s:\n%s", args, s.logs())
	}
	return s
}

func (s *simProc) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop ends the sim with SIGTERM (it finishes the tickets in hand) and
// waits; SIGKILL after 10 s.
func (s *simProc) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("comandera sim did not stop within 10s of SIGTERM")
	}
}

// simTicket is one ticket the sim wrote: its sidecar and transcript.
type simTicket struct {
	Name     string   `json:"name"`
	Job      string   `json:"job"`
	Profile  string   `json:"profile"`
	Cut      string   `json:"cut"`
	Bytes    int64    `json:"bytes"`
	Lines    int      `json:"lines"`
	Warnings []string `json:"warnings"`
	Image    string   `json:"image"`
	Text     string   `json:"-"`
}

// simTickets reads the complete tickets (those whose sidecar exists) in
// dir, in the order of their names (the sim names unlabelled tickets by
// time and sequence).
func simTickets(t testing.TB, dir string) []simTicket {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ms)
	var out []simTicket
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var tk simTicket
		if err := json.Unmarshal(b, &tk); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		txt, err := os.ReadFile(strings.TrimSuffix(m, ".json") + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		tk.Text = string(txt)
		out = append(out, tk)
	}
	return out
}

// waitTickets polls dir until it holds at least n tickets and returns them.
func waitTickets(t testing.TB, dir string, n int) []simTicket {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ts := simTickets(t, dir)
		if len(ts) >= n {
			return ts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tickets in %s after 15s, want %d: %+v", len(ts), dir, n, ts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// printerInfo is the part of a printer's entry in GET /status the tests
// look at.
type printerInfo struct {
	Name      string `json:"name"`
	Driver    string `json:"driver"`
	Profile   string `json:"profile"`
	Quirks    string `json:"quirks"`
	State     string `json:"state"`
	LastError string `json:"last_error"`
	Status    struct {
		Known    bool   `json:"known"`
		Online   bool   `json:"online"`
		PaperOut bool   `json:"paper_out"`
		Detail   string `json:"detail"`
	} `json:"status"`
}

// waitPrinter polls GET /status until the named printer satisfies ok, and
// returns its entry.
func (p *proc) waitPrinter(name string, within time.Duration, ok func(printerInfo) bool) printerInfo {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var s struct{ Printers []printerInfo }
		if st, body := p.do("GET", "/status", nil, &s); st != 200 {
			p.t.Fatalf("GET /status: %d %s", st, body)
		}
		var got printerInfo
		for _, pi := range s.Printers {
			if pi.Name == name {
				got = pi
			}
		}
		if got.Name == "" {
			p.t.Fatalf("GET /status has no printer %q", name)
		}
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("printer %s in GET /status after %s: %+v", name, within, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
