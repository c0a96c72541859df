package queue

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweeper expires queued jobs past their ExpiresAt on every printer, even
// one whose worker is stuck waiting for a dead printer, so the backend hears
// about it.
func (q *Queue) sweeper() {
	defer q.wg.Done()
	t := time.NewTicker(q.opts.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
			if n, err := q.sweep(); err != nil {
				q.log.Error("expiry sweep failed", "err", err)
			} else if n > 0 {
				q.log.Info("jobs expired before they could print", "jobs", n)
			}
		}
	}
}

func (q *Queue) sweep() (int, error) {
	t := now().UnixNano()
	var ids []string
	err := q.db.View(func(tx *bolt.Tx) error {
		pend := tx.Bucket(bPending)
		return pend.ForEachBucket(func(name []byte) error {
			return pend.Bucket(name).ForEach(func(k, v []byte) error {
				if exp := int64(getU64(v)); exp != 0 && exp <= t {
					ids = append(ids, string(k))
				}
				return nil
			})
		})
	})
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	var n int
	err = q.batch(func(c *txc) error {
		n = 0
		for _, id := range ids {
			j, err := q.change(c, id, expireMutation(c.now))
			if err != nil {
				return err
			}
			if j != nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

// pruner deletes old final jobs, expired idempotency keys and sink entries
// past their bounds.
func (q *Queue) pruner() {
	defer q.wg.Done()
	t := time.NewTicker(q.opts.PruneEvery)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
			jobs, keys, err := q.prune()
			if err != nil {
				q.log.Error("pruning failed", "err", err)
			} else if jobs+keys > 0 {
				q.log.Debug("pruned history", "jobs", jobs, "keys", keys)
			}
			if _, err := q.pruneSinks(); err != nil {
				q.log.Error("pruning the event sinks failed", "err", err)
			}
		}
	}
}

// pruneChunk bounds the work of one write transaction, so pruning does not
// hold up submissions.
const pruneChunk = 500

// prune deletes final jobs older than KeepFor or beyond the newest KeepJobs,
// and idempotency keys older than the window. A final job whose key is
// still inside the window is kept, so the key keeps returning it.
func (q *Queue) prune() (jobs, keys int, err error) {
	t := now()
	window := q.opts.IdempotencyWindow
	for {
		n := 0
		err = q.batch(func(c *txc) error {
			n = 0
			kb := c.tx.Bucket(bKeys)
			var old [][]byte
			cur := kb.Cursor()
			for k, v := cur.First(); k != nil && len(old) < pruneChunk; k, v = cur.Next() {
				if len(v) != idLen+8 || t.Sub(time.Unix(0, int64(getU64(v[idLen:])))) >= window {
					old = append(old, append([]byte(nil), k...))
				}
			}
			for _, k := range old {
				if err := kb.Delete(k); err != nil {
					return err
				}
			}
			n = len(old)
			return nil
		})
		keys += n
		if err != nil || n < pruneChunk {
			break
		}
	}
	if err != nil {
		return jobs, keys, err
	}
	for {
		n, more := 0, false
		err = q.batch(func(c *txc) error {
			n, more = 0, false
			tx := c.tx
			meta := tx.Bucket(bMeta)
			count := int(getU64(meta.Get(kFinalCount)))
			var doomed []*Job
			scanned := 0
			cur := tx.Bucket(bFinal).Cursor()
			for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
				if len(doomed) >= pruneChunk || scanned >= 10*pruneChunk {
					more = true
					break
				}
				pos := scanned
				scanned++
				created, _ := IDTime(string(k))
				age := t.Sub(created)
				if age < q.opts.KeepFor && pos >= count-q.opts.KeepJobs {
					break // IDs are in creation order: the rest are newer
				}
				j, err := getJob(tx, string(k))
				if err != nil {
					j = &Job{ID: string(k)} // damaged or missing record: drop the index entry
				}
				if j.IdempotencyKey != "" && age < window {
					continue
				}
				doomed = append(doomed, j)
			}
			for _, j := range doomed {
				id := []byte(j.ID)
				for _, b := range [][]byte{bJobs, bPayloads, bFinal} {
					if err := tx.Bucket(b).Delete(id); err != nil {
						return err
					}
				}
				if j.IdempotencyKey != "" {
					kk := keyIndex(j.keyPrinter(), j.IdempotencyKey)
					if v := tx.Bucket(bKeys).Get(kk); len(v) >= idLen && string(v[:idLen]) == j.ID {
						if err := tx.Bucket(bKeys).Delete(kk); err != nil {
							return err
						}
					}
				}
			}
			n = len(doomed)
			return meta.Put(kFinalCount, putU64(uint64(max(0, count-n))))
		})
		jobs += n
		if err != nil || !more || n == 0 {
			break
		}
	}
	return jobs, keys, err
}
