//go:build linux

package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// children returns the processes whose parent is ppid and whose executable
// is exe, from /proc.
func children(t *testing.T, ppid int, exe string) []int {
	t.Helper()
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) || f[0] == "Z" {
			continue
		}
		if got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && got == want {
			out = append(out, pid)
		}
	}
	return out
}

// pluginPID waits until the server runs exactly one process of the plugin
// binary other than not, and returns its ID.
func pluginPID(t *testing.T, p *proc, exe string, not int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pids := children(t, p.cmd.Process.Pid, exe)
		if len(pids) == 1 && pids[0] != not {
			return pids[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin processes of the server: %v, want one other than %d", pids, not)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sendSignal(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill -%d %d: %v", sig, pid, err)
	}
}

// alive checks that the server still runs and answers.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("the server exited: %v\n%s", p.err, p.logs())
	default:
	}
	var h map[string]any
	if st, body := p.do("GET", "/health", nil, &h); st != http.StatusOK || h["status"] != "healthy" {
		t.Fatalf("GET /health: %d %s", st, body)
	}
}

const killHCL = `
server {
  listen   = "127.0.0.1:0"
  token    = "` + token + `"
  data_dir = "DATA"
}
plugin "slow" {
  path    = "TESTPATH"
  sha256  = "TESTSUM"
  timeout = "20s"
}
plugin "star" {
  path   = "STARPATH"
  sha256 = "STARSUM"
}
printer "slow" {
  profile       = "generic-80mm"
  quirks        = "slow"
  retry_backoff = "100ms"
  retry_max     = "200ms"
  sim { output = "OUT/slow" }
}
printer "tsp650" {
  profile       = "star-tsp650"
  quirks        = "star"
  retry_backoff = "100ms"
  retry_max     = "200ms"
  sim { output = "OUT/tsp650" }
}
`

// TestPluginKilledMidJob kills a quirks plugin's process (SIGKILL, found in
// /proc as the server's child running the plugin binary) while a job is
// inside a call to it: the server stays up, starts the plugin again, and
// retries the job, which prints.
func TestPluginKilledMidJob(t *testing.T) {
	bins := buildPlugins(t, "plugins/internal/testplugin", "plugins/star")
	slow, star := bins["testplugin"], bins["star"]
	e := newEnv(t, strings.NewReplacer("TESTPATH", slow.path, "TESTSUM", slow.sum,
		"STARPATH", star.path, "STARSUM", star.sum).Replace(killHCL))
	p := e.start()

	t.Run("in the call", func(t *testing.T) {
		// The test plugin logs "sleeping" inside Encode and then sleeps:
		// once that line is in the server's log, the job is mid-call.
		before := pluginPID(t, p, slow.path, 0)
		var j job
		if st, body := p.do("POST", "/print", map[string]any{"printer": "slow", "document": []map[string]any{{"text": "sleep:1s"}}}, &j); st != http.StatusAccepted {
			t.Fatalf("POST /print: %d %s", st, body)
		}
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(p.logs(), "msg=sleeping") {
			if time.Now().After(deadline) {
				t.Fatal("the plugin never logged that it was sleeping in Encode")
			}
			time.Sleep(10 * time.Millisecond)
		}
		var now job
		p.do("GET", "/jobs/"+j.ID, nil, &now)
		if now.State != "printing" || now.Attempts != 1 {
			t.Fatalf("job %s after %d attempts while the plugin encodes it, want printing after 1", now.State, now.Attempts)
		}
		sendSignal(t, before, syscall.SIGKILL)

		got := p.waitState(j.ID, "printed", 20*time.Second)
		if got.Attempts < 2 {
			t.Errorf("attempts %d, want at least 2: the killed call failed the first", got.Attempts)
		}
		after := pluginPID(t, p, slow.path, before)
		p.alive(t)
		// What the restarted plugin answered ("slept") is what printed.
		deadline = time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(e.out, "slow", got.ID+".json"))
			if err == nil && strings.Contains(string(b), `"bytes": 5,`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no 5-byte ticket for job %s: %s %v", got.ID, b, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(p.logs(), "plugin=slow") || strings.Count(p.logs(), `msg="plugin ready" plugin=slow`) < 2 {
			t.Errorf("the log does not show the plugin started again:\n%s", p.logs())
		}
		t.Logf("plugin pid %d killed mid-call; restarted as %d; job printed after %d attempts", before, after, got.Attempts)
	})

	t.Run("star plugin frozen then killed", func(t *testing.T) {
		// The real star plugin, stopped (SIGSTOP) so the job's Encode call
		// hangs in it, then killed. A round whose kill came before the call
		// went out (the job printed on its first attempt with the new
		// process) proves less, so it is tried again, up to three times.
		doc := designTicket(t)
		for round := 1; ; round++ {
			before := pluginPID(t, p, star.path, 0)
			sendSignal(t, before, syscall.SIGSTOP)
			var j job
			if st, body := p.do("POST", "/print", map[string]any{"printer": "tsp650", "document": doc}, &j); st != http.StatusAccepted {
				sendSignal(t, before, syscall.SIGKILL)
				t.Fatalf("POST /print: %d %s", st, body)
			}
			p.waitState(j.ID, "printing", 10*time.Second)
			sendSignal(t, before, syscall.SIGKILL)
			got := p.waitState(j.ID, "printed", 20*time.Second)
			after := pluginPID(t, p, star.path, before)
			p.alive(t)
			txt := waitTicket(t, filepath.Join(e.out, "tsp650"), j.ID)
			for _, s := range designText {
				if !strings.Contains(txt, s) {
					t.Errorf("the reprinted ticket lacks %q:\n%s", s, txt)
				}
			}
			t.Logf("round %d: star plugin pid %d frozen and killed; restarted as %d; job printed after %d attempts", round, before, after, got.Attempts)
			if got.Attempts >= 2 {
				break
			}
			if round == 3 {
				t.Fatalf("in %d rounds the job never needed a retry", round)
			}
		}
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
