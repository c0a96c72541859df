package net

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdnet "net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/internal/devinfo"
	"github.com/comandera/comandera/escpos"
)

// MaxScan is the most addresses Scan probes in one call (a /22).
const MaxScan = 1024

// scanWorkers is how many probes run at once.
const scanWorkers = 64

// Scan probes every address of prefix on port (0: 9100) and returns those
// that accept a TCP connection, with the printers.hcl block to use them.
// An Epson-compatible printer that answers GS I names its maker and model,
// which picks a profile. Nothing scans the network unless this is called
// (by `comandera scan -net CIDR`). timeout bounds each probe (0: 500ms).
func Scan(ctx context.Context, prefix netip.Prefix, port int, timeout time.Duration) ([]core.Device, error) {
	if !prefix.IsValid() {
		return nil, errors.New("net: scan: invalid address range")
	}
	prefix = prefix.Masked()
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("net: scan: port %d is not 1 to 65535", port)
	}
	if timeout <= 0 {
		timeout = 500 * time.Millisecond
	}
	if bits := prefix.Addr().BitLen() - prefix.Bits(); bits > 10 {
		return nil, fmt.Errorf("net: scan: %s has 2^%d addresses; scan at most %d (a /%d)", prefix, bits, MaxScan, prefix.Addr().BitLen()-10)
	}
	var addrs []netip.Addr
	for a := prefix.Addr(); prefix.Contains(a); a = a.Next() {
		// Skip an IPv4 network's network and broadcast addresses.
		if prefix.Addr().Is4() && prefix.Bits() < 31 && (a == prefix.Addr() || !prefix.Contains(a.Next())) {
			continue
		}
		addrs = append(addrs, a)
		if !a.Next().IsValid() {
			break
		}
	}
	jobs := make(chan netip.Addr)
	var mu sync.Mutex
	var devs []core.Device
	var wg sync.WaitGroup
	for range min(scanWorkers, len(addrs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range jobs {
				if d, ok := probe(ctx, netip.AddrPortFrom(a, uint16(port)), timeout); ok {
					mu.Lock()
					devs = append(devs, d)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for _, a := range addrs {
		select {
		case jobs <- a:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	slices.SortFunc(devs, func(a, b core.Device) int {
		pa, _ := netip.ParseAddrPort(a.Address)
		pb, _ := netip.ParseAddrPort(b.Address)
		return pa.Compare(pb)
	})
	return devs, ctx.Err()
}

// probe connects to ap and asks an Epson-style printer for its maker and
// model (GS I 66, GS I 67: "_" name NUL). Other printers just stay silent.
func probe(ctx context.Context, ap netip.AddrPort, timeout time.Duration) (core.Device, bool) {
	d := stdnet.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", ap.String())
	if err != nil {
		return core.Device{}, false
	}
	defer nc.Close()
	dev := core.Device{Driver: "net", Address: ap.String()}
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte{escpos.GS, 'I', 66, escpos.GS, 'I', 67}); err == nil {
		var got []byte
		buf := make([]byte, 256)
		for len(got) < 512 {
			n, err := nc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil || bytes.Count(got, []byte{0}) >= 2 {
				break
			}
		}
		names := infoReplies(got)
		if len(names) > 0 {
			dev.Manufacturer = names[0]
		}
		if len(names) > 1 {
			dev.Model = names[1]
		}
	}
	dev.Profile = devinfo.SuggestProfile(core.Builtin(), 0, 0, dev.Model)
	addr := ap.Addr().String()
	if ap.Port() != DefaultPort {
		addr = stdnet.JoinHostPort(addr, strconv.Itoa(int(ap.Port())))
	}
	dev.Config = devinfo.Block(devinfo.Name(dev.Model, "printer-"+ap.Addr().String()), dev.Profile, "net",
		devinfo.Attr{Name: "address", Value: addr})
	return dev, true
}

// infoReplies extracts the "_" text NUL replies to GS I from b, skipping
// anything else (status bytes, ASB).
func infoReplies(b []byte) []string {
	var out []string
	for len(b) > 0 && len(out) < 4 {
		i := bytes.IndexByte(b, '_')
		if i < 0 {
			break
		}
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			break
		}
		if s := cleanText(b[:j]); s != "" {
			out = append(out, s)
		}
		b = b[j+1:]
	}
	return out
}

func cleanText(b []byte) string {
	var out []byte
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
		if len(out) >= 64 {
			break
		}
	}
	return string(bytes.TrimSpace(out))
}
