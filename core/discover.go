package core

import (
	"context"
	"fmt"
)

// Discover asks every registered, available driver that is a Discoverer for
// the devices it can see. A driver that fails does not hide the others: its
// error is returned beside the devices found.
func Discover(ctx context.Context) ([]Device, []error) {
	var devices []Device
	var errs []error
	for _, name := range Drivers() {
		d, _ := Lookup(name)
		disc, ok := d.(Discoverer)
		if !ok || Available(d) != nil {
			continue
		}
		found, err := disc.Discover(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		for _, dev := range found {
			if dev.Driver == "" {
				dev.Driver = name
			}
			devices = append(devices, dev)
		}
	}
	return devices, errs
}
