// Command testplugin is a quirks plugin that misbehaves on request, for the
// host's tests: the text of the document's first block says what to do.
//
//	sleep:DUR   sleep DUR, ignoring the call's deadline (a wedged plugin)
//	crash       exit at once (a crashed plugin)
//	panic       panic inside the call
//	log:MSG     log MSG at info level through plugins.Logger
//	big:N       answer N bytes
//	pid         answer the process ID
//	anything    answer the text itself
//
// At start it creates "started-PID" beside its binary, so a test can prove
// it never ran.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins"
)

var log = plugins.Logger()

type testPlugin struct{}

func (testPlugin) Info(context.Context) (plugins.Info, error) {
	return plugins.Info{Name: "testplugin", Version: "test", APIVersion: plugins.APIVersion,
		CommandSets: []string{core.CommandSetESCPOS}, Capabilities: []string{plugins.CapEncode, plugins.CapTransform}}, nil
}

func (testPlugin) Encode(ctx context.Context, doc core.Document, p *core.Profile) ([]byte, error) {
	cmd := doc[0].Text
	switch {
	case strings.HasPrefix(cmd, "sleep:"):
		d, err := time.ParseDuration(strings.TrimPrefix(cmd, "sleep:"))
		if err != nil {
			return nil, err
		}
		log.Info("sleeping", "for", d.String())
		time.Sleep(d)
		return []byte("slept"), nil
	case cmd == "crash":
		os.Exit(3)
	case cmd == "panic":
		panic("asked to panic")
	case strings.HasPrefix(cmd, "log:"):
		log.Info(strings.TrimPrefix(cmd, "log:"), "profile", p.Name)
		return []byte("logged"), nil
	case strings.HasPrefix(cmd, "big:"):
		n, err := strconv.Atoi(strings.TrimPrefix(cmd, "big:"))
		if err != nil {
			return nil, err
		}
		return bytes.Repeat([]byte{'x'}, n), nil
	case cmd == "pid":
		return []byte(strconv.Itoa(os.Getpid())), nil
	}
	return []byte(cmd), nil
}

func (testPlugin) Transform(_ context.Context, data []byte, _ *core.Profile) ([]byte, error) {
	return append([]byte("T:"), data...), nil
}

func (testPlugin) ParseStatus(context.Context, []byte, *core.Profile) (core.Status, error) {
	return core.Status{}, plugins.ErrUnsupported
}

func main() {
	if os.Getenv(plugins.Handshake.MagicCookieKey) != "" {
		marker := filepath.Join(filepath.Dir(os.Args[0]), fmt.Sprintf("started-%d", os.Getpid()))
		_ = os.WriteFile(marker, nil, 0o644)
	}
	plugins.Serve(testPlugin{})
}
