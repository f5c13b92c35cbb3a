package providertest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// TestToy: the toy adapter, without defects, passes the suite, so that
// the planted defects below are what the suite rejects.
func TestToy(t *testing.T) {
	providertest.Run(t, toyMaker(driver.Filterable, ""), nil)
}

// TestPartialPushdown: a vendor that filters on email, active and id
// only answers every filter correctly, the portable layer applying the
// rest while it pages.
func TestPartialPushdown(t *testing.T) {
	providertest.Run(t, toyMaker(driver.Fields(driver.FieldEmail, driver.FieldActive, driver.FieldID), ""), nil)
}

// defectEnv names the planted defect TestBroken runs the suite against,
// in the process TestRejectsBrokenAdapters starts.
const defectEnv = "PROVIDERTEST_DEFECT"

// TestBroken runs the suite against the toy adapter with one planted
// defect. It runs only in a process that TestRejectsBrokenAdapters starts,
// which expects it to fail.
func TestBroken(t *testing.T) {
	defect := os.Getenv(defectEnv)
	if defect == "" {
		t.Skip("run by TestRejectsBrokenAdapters")
	}
	providertest.Run(t, toyMaker(driver.Filterable, defect), &providertest.Options{Liveness: time.Second})
}

// TestRejectsBrokenAdapters runs the suite, in a process of its own,
// against each planted defect, and checks that it fails, where it should.
func TestRejectsBrokenAdapters(t *testing.T) {
	if os.Getenv(defectEnv) != "" {
		t.Skip("in the process of a planted defect")
	}
	for _, tt := range []struct {
		defect string
		want   []string // in the suite's output
		race   bool     // only the race detector sees it
	}{
		{defectUnlockedMap, []string{"DATA RACE"}, true},
		{defectIgnoredCtx, []string{"--- FAIL: TestBroken/Cancellation", "must honour ctx"}, false},
		{defectNoCompany, []string{"--- FAIL: TestBroken/Company", "the vendor names its company"}, false},
		{defectSecret, []string{"--- FAIL: TestBroken/Faults", "the error shows a secret"}, false},
		{defect503Final, []string{"--- FAIL: TestBroken/Faults/unavailable", "a 503 is worth retrying", "--- FAIL: TestBroken/Retries/503_is_retried"}, false},
		{defectWrongTotal, []string{"--- FAIL: TestBroken/Totals", "--- FAIL: TestBroken/Walk"}, false},
	} {
		t.Run(tt.defect, func(t *testing.T) {
			if tt.race && !raceEnabled {
				t.Skip("only the race detector sees this defect: go test -race")
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestBroken$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), defectEnv+"="+tt.defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed an adapter with a planted defect (%s):\n%s", tt.defect, tail(out))
			}
			for _, want := range tt.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("the suite failed, but its output lacks %q:\n%s", want, tail(out))
				}
			}
		})
	}
}

func tail(b []byte) string {
	const n = 3000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
