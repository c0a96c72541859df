package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is the comandera binary TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "comandera-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "comandera")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goBin, "build", "-o", bin, "github.com/comandera/comandera/cmd/comandera")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build comandera: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const token = "e2e-secret-token-0123456789"

// env is a directory for one server: its config, data and sim output.
type env struct {
	t    testing.TB
	dir  string
	cfg  string // path of printers.hcl
	data string
	out  string
}

// newEnv writes a configuration. In hcl, DATA and OUT are replaced by the
// data and output directories.
func newEnv(t testing.TB, hcl string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfg: filepath.Join(dir, "printers.hcl"),
		data: filepath.Join(dir, "data"), out: filepath.Join(dir, "out")}
	hcl = strings.NewReplacer("DATA", e.data, "OUT", e.out).Replace(hcl)
	if err := os.WriteFile(e.cfg, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// proc is a running `comandera serve`.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	err  error

	mu  sync.Mutex
	log bytes.Buffer
}

var listenRE = regexp.MustCompile(`^comandera: listening on (https?://\S+)$`)

// start runs `comandera serve -config …` and waits until it listens.
func (e *env) start(extra ...string) *proc {
	e.t.Helper()
	return e.startArgs(append([]string{"serve", "-config", e.cfg}, extra...)...)
}

// startArgs runs the binary with args and waits until it listens.
func (e *env) startArgs(args ...string) *proc {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	dieWithParent(cmd)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "PRINTER_SECRET=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &proc{t: e.t, cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	scan := func(r io.Reader) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, r)
	}
	var scanners sync.WaitGroup
	scanners.Add(2)
	go func() { defer scanners.Done(); scan(stderr) }()
	go func() { defer scanners.Done(); scan(stdout) }()
	go func() {
		scanners.Wait() // the pipes close when the process exits
		p.err = cmd.Wait()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() {
			e.t.Logf("server log:\n%s", p.logs())
		}
	})
	select {
	case a := <-addr:
		p.url = a
	case <-p.done:
		e.t.Fatalf("comandera serve exited before listening: %v\n%s", p.err, p.logs())
	case <-time.After(15 * time.Second):
		e.t.Fatalf("comandera serve did not listen within 15s\n%s", p.logs())
	}
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop sends SIGTERM and waits; it returns the exit code.
func (p *proc) stop() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		p.t.Fatalf("comandera serve did not stop within 30s of SIGTERM\n%s", p.logs())
	}
	return p.cmd.ProcessState.ExitCode()
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// do sends a request with the token (unless auth is "none") and decodes a
// JSON answer into out (when non-nil). It returns the status and body.
func (p *proc) do(method, path string, body any, out any, hdr ...string) (int, []byte) {
	p.t.Helper()
	st, b, err := p.try(method, path, body, out, hdr...)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, b
}

func (p *proc) try(method, path string, body any, out any, hdr ...string) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, p.url+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, b, err
	}
	if out != nil && len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("decoding %s: %v", b, err)
		}
	}
	return resp.StatusCode, b, nil
}

// job is the part of a job's JSON the tests look at.
type job struct {
	ID             string          `json:"job_id"`
	Printer        string          `json:"printer"`
	State          string          `json:"state"`
	Attempts       int             `json:"attempts"`
	LastError      string          `json:"last_error"`
	Reprint        bool            `json:"reprint"`
	FailedOverFrom string          `json:"failed_over_from"`
	Existed        bool            `json:"existed"`
	Metadata       json.RawMessage `json:"metadata"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// waitState polls GET /jobs/{id} until the job is in state, or fails.
func (p *proc) waitState(id, state string, within time.Duration) job {
	p.t.Helper()
	deadline := time.Now().Add(within)
	var j job
	for {
		j = job{}
		st, body := p.do("GET", "/jobs/"+id, nil, &j)
		if st != 200 {
			p.t.Fatalf("GET /jobs/%s: %d %s", id, st, body)
		}
		if j.State == state {
			return j
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("job %s is %s (last error %q), not %s, after %s", id, j.State, j.LastError, state, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ticket is one complete simulated ticket: its sidecar and transcript.
type ticket struct {
	Name string `json:"name"`
	Job  string `json:"job"`
	Cut  string `json:"cut"`
	Text string `json:"-"`
}

// tickets reads the complete tickets (those whose sidecar exists) in dir.
func tickets(t testing.TB, dir string) []ticket {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []ticket
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		var tk ticket
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

// waitTicket waits for the ticket of job in dir and returns its transcript.
func waitTicket(t testing.TB, dir, jobID string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, jobID+".json")); err == nil && len(b) > 0 {
			txt, err := os.ReadFile(filepath.Join(dir, jobID+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			return string(txt)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ticket for job %s in %s", jobID, dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
