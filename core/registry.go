package core

import (
	"fmt"
	"slices"
	"sync"
)

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// Register makes a driver available under name. It panics if name is already
// registered or d is nil: both are programming errors found at start-up.
func Register(name string, d Driver) {
	if d == nil {
		panic("core: Register driver " + name + " is nil")
	}
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[name]; dup {
		panic("core: Register called twice for driver " + name)
	}
	drivers[name] = d
}

// Lookup returns the driver registered under name.
func Lookup(name string) (Driver, error) {
	driversMu.RLock()
	d, ok := drivers[name]
	driversMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown driver %q (forgotten import?)", name)
	}
	return d, nil
}

// Drivers returns the names of the registered drivers, sorted.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Available reports whether the driver can be used on this platform and build;
// the error says why not.
func Available(d Driver) error {
	if a, ok := d.(Availability); ok {
		return a.Available()
	}
	return nil
}
