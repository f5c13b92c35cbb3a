package providers

import (
	"hash/fnv"
	"slices"

	"github.com/dirgate/dirgate/providers/driver"
)

// End is the Position.Offset of a provider whose every user lies before a
// cut, when dirgate does not know how many that is.
const End = -1

// Anchors is how many of the users before a position it remembers.
const Anchors = 3

// Position is where a walk through one provider's users stands, as the
// Source that made it describes it. Positions are made by a Source (the
// zero Position is the start, Offset End the end); a cursor carries them.
type Position struct {
	// Offset is the number of users matching the filter before the
	// position, or End.
	Offset int
	// Vendor is where the vendor's own list stands: for an offset vendor,
	// its offset (among the users that match the filter it was asked to
	// apply) right after the last user before the position; for a cursor
	// vendor, how many users of the answer Cursor names lie before the
	// position.
	Vendor int
	// Cursor is, for a cursor vendor, the cursor of the answer that holds
	// the last user before the position ("" for the first answer).
	Cursor string
	// Anchor identifies the last users before the position (at most
	// Anchors of them, the nearest last) by a hash of their native ids.
	// The next page checks them, and finds them again if the directory
	// changed before the position.
	Anchor []uint64
}

// IsEnd reports whether p lies after every user.
func (p Position) IsEnd() bool { return p.Offset == End }

// before returns the position just before the last user before p: an
// upper bound that excludes that user.
func (p Position) before() Position {
	if p.Offset <= 0 {
		return p
	}
	q := Position{Offset: p.Offset - 1, Vendor: max(p.Vendor-1, 0), Cursor: p.Cursor}
	if n := len(p.Anchor); n > 0 {
		q.Anchor = slices.Clone(p.Anchor[:n-1])
	}
	return q
}

// anchorOf is the anchor of a user: a hash of its native id.
func anchorOf(u *driver.User) uint64 {
	h := fnv.New64a()
	h.Write([]byte(u.ID))
	return h.Sum64()
}

// anchorsAfter returns the anchors of the position after users[i], given
// the anchors before users[0].
func anchorsAfter(prev []uint64, users []driver.User, i int) []uint64 {
	out := make([]uint64, 0, Anchors)
	for j := max(i-Anchors+1, 0); j <= i; j++ {
		out = append(out, anchorOf(&users[j]))
	}
	if need := Anchors - len(out); need > 0 {
		from := max(len(prev)-need, 0)
		out = append(slices.Clone(prev[from:]), out...)
	}
	return out
}
