package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
)

func init() {
	register(command{name: "sim", summary: "run a simulated printer on a TCP port or a pseudo-terminal", run: runSim})
}

// runSim is `comandera sim (-listen ADDR | -pty) -out DIR [flags]`.
func runSim(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "serve raw TCP jobs on `ADDR` (like port 9100), e.g. 127.0.0.1:9100")
	usePTY := fs.Bool("pty", false, "act as a serial printer on a new pseudo-terminal; its path is printed on stdout")
	out := fs.String("out", "", "write each ticket's PNG, transcript and sidecar to `DIR`")
	cfgPath := fs.String("config", "", "configuration `FILE` whose profile blocks to include (default ./printers.hcl if present)")
	profile := fs.String("profile", core.DefaultProfile, "printer `profile`")
	noRender := fs.Bool("no-render", false, "write transcripts and sidecars only, no PNG")
	cfg := &sim.Config{}
	fs.IntVar(&cfg.PaperOutAfter, "paper-out-after", 0, "run out of paper after `N` tickets (0: never)")
	fs.Int64Var(&cfg.DisconnectAfter, "disconnect-after", 0, "drop the link once after `N` bytes (0: never)")
	fs.Float64Var(&cfg.Speed, "speed", 0, "print speed in `MM_PER_S` (0: instant)")
	fs.IntVar(&cfg.XOffAt, "xoff-at", 0, "send XOFF when `N` bytes are unprinted, XON when drained (needs -speed)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera sim -listen ADDR -out DIR [flags]
       comandera sim -pty -out DIR [flags]

A virtual printer: each job is interpreted as the profile's printer would and
every ticket (up to a cut) is written to DIR as NAME.png, NAME.txt and
NAME.json. It answers status requests from its state (DLE EOT on ESC/POS
profiles, ESC ACK SOH with an ASB on Star profiles). Files in DIR
raise faults while it runs: OFFLINE, PAPER_OUT, COVER_OPEN.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 || (*listen == "") == !*usePTY || *out == "" {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "comandera sim: %v\n", err)
		return 1
	}
	profiles, _, ok := loadProfiles(*cfgPath, "sim", stderr)
	if !ok {
		return 1
	}
	p, err := profiles.Lookup(*profile)
	if err != nil {
		return fail(err)
	}
	cfg.Output = *out
	render := !*noRender
	cfg.Render = &render
	cfg.SetProfile(p)
	cfg.Log = slog.New(slog.NewTextHandler(stderr, nil))
	printer, err := sim.NewPrinter(cfg)
	if err != nil {
		return fail(err)
	}
	if *usePTY {
		err = printer.ServePTY(ctx, sim.DefaultIdle, func(path string) {
			fmt.Fprintln(stdout, path)
		})
	} else {
		var l net.Listener
		if l, err = (&net.ListenConfig{}).Listen(ctx, "tcp", *listen); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "listening on %s\n", l.Addr())
		err = printer.Serve(ctx, l)
	}
	if err != nil {
		return fail(err)
	}
	return 0
}
