package plugins

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// stderr is the process's real standard error, captured before go-plugin
// points os.Stderr at its stdio stream: the host reads log lines from it.
var stderr = os.Stderr

// Logger returns the logger plugin code should use. Its lines reach the host,
// which logs them through its own slog logger, named after the plugin and at
// the level given here. It is safe to call before or after Serve.
func Logger() *slog.Logger { return loggerTo(stderr) }

// loggerTo returns a logger writing hclog-style JSON lines to w: go-plugin
// parses "@level", "@message", "@timestamp" and takes the other keys as
// attributes.
func loggerTo(w io.Writer) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				l := a.Value.Any().(slog.Level)
				name := "info"
				switch {
				case l < slog.LevelDebug:
					name = "trace"
				case l < slog.LevelInfo:
					name = "debug"
				case l < slog.LevelWarn:
					name = "info"
				case l < slog.LevelError:
					name = "warn"
				default:
					name = "error"
				}
				return slog.String("@level", name)
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
	return slog.New(h)
}

// Serve runs impl as a plugin: it answers the host over gRPC until the host
// stops it. It is all a plugin's main function needs to call. Run by hand
// (without the host's handshake), it explains what the binary is and exits.
func Serve(impl Quirks) {
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		name := filepath.Base(os.Args[0])
		fmt.Fprintf(os.Stderr, strings.TrimSpace(`
%[1]s is a Comandera quirks plugin: the Comandera server starts it, it is not
meant to be run by hand. To use it, declare it in printers.hcl with its
SHA-256 (sha256sum %[1]s) and name it on a printer:

  plugin "NAME" {
    path   = "/path/to/%[1]s"
    sha256 = "<the sum>"
  }

  printer "bar" {
    quirks = "NAME"
    ...
  }
`)+"\n", name)
		os.Exit(1)
	}
	log := Logger()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl, Logger: log}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Level:      hclog.Debug,
			Output:     stderr,
			JSONFormat: true,
		}),
	})
}
