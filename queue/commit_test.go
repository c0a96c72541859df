package queue

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestCommitter(t *testing.T) {
	db, err := bolt.Open(t.TempDir()+"/c.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newCommitter(db, 16)
	if err := c.do(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.do(func(tx *bolt.Tx) error {
				switch i % 10 {
				case 3:
					return fmt.Errorf("refused %d", i)
				case 7:
					panic("boom")
				}
				return tx.Bucket([]byte("b")).Put([]byte(fmt.Sprint(i)), []byte("x"))
			})
		}()
	}
	wg.Wait()
	n := 0
	_ = db.View(func(tx *bolt.Tx) error { n = tx.Bucket([]byte("b")).Stats().KeyN; return nil })
	if n != 80 {
		t.Fatalf("%d keys written, want 80", n)
	}
	for i, err := range errs {
		switch i % 10 {
		case 3:
			if err == nil || err.Error() != fmt.Sprintf("refused %d", i) {
				t.Errorf("%d: %v", i, err)
			}
		case 7:
			if err == nil || !strings.Contains(err.Error(), "panic") {
				t.Errorf("%d: %v", i, err)
			}
		default:
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
		}
	}
	if c.commits.Load() >= c.calls.Load() {
		t.Logf("no batching happened (%d commits for %d calls)", c.commits.Load(), c.calls.Load())
	}
	c.close()
	if err := c.do(func(*bolt.Tx) error { return nil }); !errors.Is(err, errCommitterClosed) {
		t.Fatalf("after close: %v", err)
	}
}
