package main

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSoak runs a short soak: every fault phase runs, honest and hostile
// requests are answered, hostile ones with their codes, dirgate answers
// no 5xx, and its goroutines come back to their start.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs dirgate for a while")
	}
	o := Options{Duration: 20 * time.Second, Concurrency: 4, Hostile: 0.3, MaxRSS: 300 << 20} // eight phases of 2s each
	var log bytes.Buffer
	rep, err := Run(t.Context(), o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, &log)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log(out.String())
	for _, p := range rep.Problems(o) {
		t.Error(p)
	}
	for _, p := range phases {
		if !slices.Contains(rep.Faults, p) {
			t.Errorf("fault phase %s did not run", p)
		}
	}
	for _, c := range []string{"FIELD_LIMIT_EXCEEDED", "UNAUTHENTICATED", "REQUEST_TOO_LARGE", "HOST_NOT_ALLOWED", "(none)"} {
		if rep.ByCode[c] == 0 {
			t.Errorf("no answer with %s", c)
		}
	}
	if rep.ConcurUsers == 0 || rep.GetbillUsers == 0 {
		t.Errorf("vendor calls: Concur %d, getbill %d", rep.ConcurUsers, rep.GetbillUsers)
	}
}
