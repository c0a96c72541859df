package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/comandera/comandera/core"
	netdrv "github.com/comandera/comandera/drivers/net"
)

func init() {
	register(command{name: "scan", summary: "list the printers this machine can reach, with the printers.hcl block for each", run: runScan})
}

// scanResult is what `comandera scan -json` prints.
type scanResult struct {
	Devices []core.Device `json:"devices"`
	// Errors are the drivers that failed, as "driver: message"; the other
	// drivers' devices are still listed.
	Errors []string `json:"errors"`
	// Unavailable maps drivers that cannot run in this build or on this
	// platform to the reason.
	Unavailable map[string]string `json:"unavailable"`
}

// runScan is `comandera scan [-json] [-net CIDR] [-port N] [-timeout D]`.
func runScan(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON: {devices, errors, unavailable}")
	ranges := fs.String("net", "", "also probe these `CIDR`s (comma-separated, at most 1024 addresses each) for raw TCP printers")
	port := fs.Int("port", netdrv.DefaultPort, "TCP `port` probed by -net")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: comandera scan [-json] [-net CIDR[,CIDR…]] [-timeout D]

Lists the printers every available driver can see (USB printers on usblp or
libusb, serial ports, and with -net the hosts of a network range that accept
raw jobs on port 9100), each with the printers.hcl block that uses it. The
text output is valid HCL: paste the blocks you want into printers.hcl.
The network is only probed with -net. A driver that fails is reported on
stderr and does not hide the others; the exit status is then 1.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	var prefixes []netip.Prefix
	for _, r := range strings.Split(*ranges, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		p, err := parseRange(r)
		if err != nil {
			fmt.Fprintf(stderr, "comandera scan: -net %s: %v\n", r, err)
			return 2
		}
		prefixes = append(prefixes, p)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	res := scanResult{Devices: []core.Device{}, Errors: []string{}, Unavailable: map[string]string{}}
	for _, name := range core.Drivers() {
		d, _ := core.Lookup(name)
		if _, ok := d.(core.Discoverer); !ok {
			continue
		}
		if err := core.Available(d); err != nil {
			res.Unavailable[name] = err.Error()
		}
	}
	devs, errs := core.Discover(ctx)
	res.Devices = append(res.Devices, devs...)
	for _, err := range errs {
		res.Errors = append(res.Errors, err.Error())
	}
	for _, p := range prefixes {
		devs, err := netdrv.Scan(ctx, p, *port, 0)
		res.Devices = append(res.Devices, devs...)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("net %s: %v", p, err))
		}
	}
	uniqueNames(res.Devices)

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "comandera scan: %v\n", err)
			return 1
		}
	} else {
		writeScan(stdout, stderr, res)
	}
	if len(res.Errors) > 0 {
		return 1
	}
	return 0
}

// parseRange accepts a CIDR or a single address.
func parseRange(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want a CIDR like 192.168.1.0/24 or an address")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// uniqueNames renames printers whose suggested blocks share a name (two
// identical models), so the output can be pasted as it is.
func uniqueNames(devs []core.Device) {
	seen := map[string]int{}
	for i, d := range devs {
		name, rest, ok := blockName(d.Config)
		if !ok {
			continue
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			devs[i].Config = fmt.Sprintf("printer %q%s", fmt.Sprintf("%s-%d", name, n), rest)
		}
	}
}

// blockName splits `printer "NAME" {…` into NAME and what follows it.
func blockName(cfg string) (name, rest string, ok bool) {
	after, found := strings.CutPrefix(cfg, `printer "`)
	if !found {
		return "", "", false
	}
	i := strings.IndexByte(after, '"')
	if i < 0 {
		return "", "", false
	}
	return after[:i], after[i+1:], true
}

func writeScan(stdout, stderr io.Writer, res scanResult) {
	for _, e := range res.Errors {
		fmt.Fprintf(stderr, "comandera scan: %s\n", e)
	}
	for _, name := range slices.Sorted(maps.Keys(res.Unavailable)) {
		fmt.Fprintf(stderr, "comandera scan: note: driver %s is not available: %s\n", name, res.Unavailable[name])
	}
	switch len(res.Devices) {
	case 0:
		fmt.Fprintln(stdout, "# No printers found. Check that the printer is on and connected; for a network printer run\n# comandera scan -net 192.168.1.0/24 (your network's range).")
		return
	case 1:
		fmt.Fprintln(stdout, "# Found 1 printer. Paste its block into printers.hcl.")
	default:
		fmt.Fprintf(stdout, "# Found %d printers. Paste the blocks you want into printers.hcl.\n", len(res.Devices))
	}
	for _, d := range res.Devices {
		fmt.Fprintf(stdout, "\n# %s\n%s", describeDevice(d), d.Config)
		if !strings.HasSuffix(d.Config, "\n") {
			fmt.Fprintln(stdout)
		}
	}
}

func describeDevice(d core.Device) string {
	parts := []string{d.Driver + " " + d.Address}
	if s := strings.TrimSpace(d.Manufacturer + " " + d.Model); s != "" {
		parts = append(parts, s)
	}
	if d.VendorID != 0 || d.ProductID != 0 {
		parts = append(parts, fmt.Sprintf("USB %04x:%04x", d.VendorID, d.ProductID))
	}
	if d.Serial != "" {
		parts = append(parts, "serial "+d.Serial)
	}
	if d.Profile != "" {
		parts = append(parts, "profile "+d.Profile)
	} else {
		parts = append(parts, "no matching profile: "+core.DefaultProfile+" is used unless you set one")
	}
	// Device strings come from the hardware: keep the comment on one line.
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.Join(parts, ", "))
}
