package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/comandera/comandera/config"
	"github.com/comandera/comandera/core"
)

func init() {
	register(command{name: "print", summary: "send a file of printer bytes straight through a configured printer's driver", run: runPrint})
}

// runPrint is `comandera print [-config FILE] [-printer NAME] [-timeout D] IN`:
// the bytes go to the printer's driver as they are, without the queue, the
// encoder or a quirks plugin. It is for checking a printer and its driver
// block by hand; the server is what a restaurant prints through.
func runPrint(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("print", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "printers.hcl `file` (default ./printers.hcl, else the embedded default)")
	name := fs.String("printer", "", "printer `name` in the config (default: the first declared)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this `duration`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera print [-config FILE] [-printer NAME] [-timeout 30s] IN

Sends IN (a file of raw printer bytes, or - for stdin) straight through the
printer's driver as configured in printers.hcl: no queue, no encoding, no
plugin. Use it to check a printer and its driver block; print tickets
through the server (comandera serve).

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "comandera print: %v\n", err)
		return 1
	}
	cfg, diags, source := loadServeConfig(*cfgPath)
	if diags.HasErrors() {
		_ = config.WriteDiagnostics(stderr, diags)
		return 1
	}
	p := cfg.DefaultPrinter()
	if *name != "" {
		p = cfg.Printer(*name)
	}
	if p == nil {
		names := make([]string, len(cfg.Printers))
		for i, q := range cfg.Printers {
			names[i] = q.Name
		}
		return fail(fmt.Errorf("no printer %q in %s (printers: %s)", *name, source, strings.Join(names, ", ")))
	}
	data, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		return fail(err)
	}
	n, err := send(ctx, p, data, *timeout)
	if err != nil {
		return fail(fmt.Errorf("printer %s (%s): %w", p.Name, p.Driver, err))
	}
	fmt.Fprintf(stdout, "sent %d bytes to %s (%s, %s)\n", n, p.Name, p.Driver, p.Profile.Name)
	return 0
}

// send opens the printer's driver connection, writes data within timeout and
// closes it; a Close error counts, since some drivers confirm delivery there.
func send(ctx context.Context, p *config.Printer, data []byte, timeout time.Duration) (int, error) {
	drv, err := core.Lookup(p.Driver)
	if err != nil {
		return 0, err
	}
	if err := core.Available(drv); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := drv.Open(ctx, p.DriverConfig)
	if err != nil {
		return 0, err
	}
	if d, ok := conn.(core.Deadliner); ok {
		dl, _ := ctx.Deadline()
		_ = d.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	n, err := conn.Write(data)
	stopped := stop()
	cerr := conn.Close()
	switch {
	case !stopped:
		return n, fmt.Errorf("timed out after %s (%d of %d bytes sent)", timeout, n, len(data))
	case err != nil:
		return n, fmt.Errorf("after %d of %d bytes: %w", n, len(data), err)
	case cerr != nil:
		return n, fmt.Errorf("closing: %w", cerr)
	}
	return n, nil
}
