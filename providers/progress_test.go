package providers

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/dirgate/dirgate/internal/errcode"
)

// flaky pages like Concur: it fails after handing out `per` users each
// time, with the users it had.
type flaky struct {
	users  []User
	per    int
	starts []int
}

func (f *flaky) Describe() Description { return Description{Paging: PagingOffset} }

func (f *flaky) ListUsers(_ context.Context, req ListRequest) (*ListPage, error) {
	f.starts = append(f.starts, req.Start.Offset)
	end := min(req.Start.Offset+req.Limit, len(f.users))
	page := &ListPage{Total: len(f.users)}
	if end-req.Start.Offset > f.per {
		page.Users = f.users[req.Start.Offset : req.Start.Offset+f.per]
		page.Next.Offset = req.Start.Offset + f.per
		return page, &TemporaryError{}
	}
	page.Users = f.users[req.Start.Offset:end]
	page.Next.Offset = end
	return page, nil
}

// TestKeepsProgress: users fetched before a failure are kept and not
// fetched again, and a call that keeps making progress completes even when
// it fails more often than it has attempts.
func TestKeepsProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := make([]User, 50)
		for i := range users {
			users[i].ID = string(rune('A' + i))
		}
		f := &flaky{users: users, per: 7}
		s := NewSource(Info{Key: "f"}, f, &SourceOptions{MaxAttempts: 2})
		page, err := s.List(t.Context(), Filter{}, Position{Offset: 3}, 40)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Users) != 40 || page.Users[0].ID != users[3].ID || page.Users[39].ID != users[42].ID || page.Next.Offset != 43 {
			t.Fatalf("got %d users from %s to %s, next %d; want 40 from %s to %s, next 43",
				len(page.Users), page.Users[0].ID, page.Users[len(page.Users)-1].ID, page.Next.Offset, users[3].ID, users[42].ID)
		}
		want := []int{3, 10, 17, 24, 31, 38}
		if len(f.starts) != len(want) {
			t.Fatalf("calls started at %v, want %v", f.starts, want)
		}
		for i := range want {
			if f.starts[i] != want[i] {
				t.Fatalf("calls started at %v, want %v", f.starts, want)
			}
		}
	})
}

// noTotal is a paged vendor that does not say how many users match.
type noTotal struct{ flaky }

func (n *noTotal) ListUsers(ctx context.Context, req ListRequest) (*ListPage, error) {
	p, err := n.flaky.ListUsers(ctx, req)
	if p != nil {
		p.Total = -1
	}
	return p, err
}

// TestUnknownTotal: a vendor that does not give a total is never counted
// or paged silently short: a short page is its end, anything else an error.
func TestUnknownTotal(t *testing.T) {
	users := make([]User, 10)
	for i := range users {
		users[i].ID = string(rune('a' + i))
	}
	s := NewSource(Info{Key: "n"}, &noTotal{flaky{users: users, per: 100}}, nil)
	page, err := s.List(t.Context(), Filter{}, Position{Offset: 4}, 20)
	if err != nil || page.Total != 10 || len(page.Users) != 6 {
		t.Errorf("short page: %d users, total %d, %v; want 6, 10", len(page.Users), page.Total, err)
	}
	for _, limit := range []int{0, 3} {
		var pe *Error
		if _, err := s.List(t.Context(), Filter{}, Position{}, limit); !errors.As(err, &pe) || pe.Code != errcode.ProviderBadResponse {
			t.Errorf("limit %d: err = %v, want PROVIDER_BAD_RESPONSE", limit, err)
		}
	}
}
