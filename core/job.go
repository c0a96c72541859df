package core

// JobState is where a print job is in its life:
// queued → printing → printed | failed | expired | canceled.
type JobState string

// The job states.
const (
	JobQueued   JobState = "queued"
	JobPrinting JobState = "printing"
	JobPrinted  JobState = "printed"
	JobFailed   JobState = "failed"
	JobExpired  JobState = "expired"
	JobCanceled JobState = "canceled"
)

// Final reports whether no further change can happen to a job in state s.
func (s JobState) Final() bool {
	switch s {
	case JobPrinted, JobFailed, JobExpired, JobCanceled:
		return true
	}
	return false
}

// Valid reports whether s is one of the job states.
func (s JobState) Valid() bool {
	switch s {
	case JobQueued, JobPrinting, JobPrinted, JobFailed, JobExpired, JobCanceled:
		return true
	}
	return false
}
