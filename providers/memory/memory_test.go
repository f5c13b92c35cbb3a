package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// harness serves the memory provider; its faults are the errors a correct
// adapter returns for them.
type harness struct {
	opts memory.Options
	p    *memory.Provider
}

func (h *harness) MakeProvider(_ context.Context, users []driver.User, company *driver.Company) (driver.Provider, error) {
	opts := h.opts
	opts.Company = company
	h.p = memory.New(users, &opts)
	return h.p, nil
}

func (h *harness) SetUsers(users []driver.User) { h.p.SetUsers(users) }
func (h *harness) Requests() int                { return h.p.Calls() }
func (h *harness) Secrets() []string            { return nil }
func (h *harness) Close()                       { h.p.SetHang(false) }

func (h *harness) Fault(f providertest.Fault) bool {
	ra := time.Duration(f.RetryAfter) * time.Second
	h.p.SetHang(f.Kind == providertest.FaultHang)
	var err error
	switch f.Kind {
	case providertest.FaultUnavailable:
		err = &driver.TemporaryError{RetryAfter: ra, Err: fmt.Errorf("%w: HTTP 503", driver.ErrUnavailable)}
	case providertest.FaultServerError:
		err = fmt.Errorf("%w: HTTP 500", driver.ErrUnavailable)
	case providertest.FaultRateLimited:
		err = &driver.RateLimitError{RetryAfter: ra}
	case providertest.FaultAuth:
		err = fmt.Errorf("%w: HTTP 401", driver.ErrAuth)
	case providertest.FaultBadResponse:
		err = fmt.Errorf("%w: not JSON", driver.ErrBadResponse)
	case providertest.FaultDisconnect:
		err = &driver.TemporaryError{Err: fmt.Errorf("%w: connection reset", driver.ErrUnavailable)}
	}
	h.p.SetError(err)
	return true
}

func TestConformance(t *testing.T) {
	emailActiveID := driver.Fields(driver.FieldEmail, driver.FieldActive, driver.FieldID)
	for _, tt := range []struct {
		name string
		opts memory.Options
	}{
		{"offset", memory.Options{Paging: driver.PagingOffset, MaxPageSize: 7}},
		{"cursor", memory.Options{Paging: driver.PagingCursor, MaxPageSize: 7}},
		{"cursor, pages of 5", memory.Options{Paging: driver.PagingCursor, MaxPageSize: 5}},
		{"snapshot", memory.Options{Paging: driver.PagingSnapshot}},
		{"snapshot in chained answers", memory.Options{Paging: driver.PagingSnapshot, MaxPageSize: 9}},
		{"offset, filtering on email, active and id only", memory.Options{Paging: driver.PagingOffset, MaxPageSize: 7, Filters: &emailActiveID}},
		{"cursor, filtering on nothing", memory.Options{Paging: driver.PagingCursor, MaxPageSize: 7, Filters: new(driver.FieldSet)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			providertest.Run(t, func(context.Context, *testing.T) (providertest.Harness, error) {
				return &harness{opts: tt.opts}, nil
			}, nil)
		})
	}
}
