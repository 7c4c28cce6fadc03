package provisioning

import (
	"context"
	"fmt"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// GroupInput is what an admin types for a ring group; nil fields are not
// given. Members, when given, replace the members in the order given
// (the hunt order).
type GroupInput struct {
	Name, Strategy *string
	RingSeconds    *int
	Members        *[]string // extension numbers
	DID            *string   // direct public number; "" removes it
	// Overflow is where a call no member answered goes: an extension's
	// mailbox (voicemail:NUMBER) or a number; "" removes it.
	Overflow *string
}

// GroupView is a group with its members by extension number.
type GroupView struct {
	store.Group
	MemberNumbers []string `json:"member_numbers"`
}

// DefaultRingSeconds is how long a group rings before it gives up: long
// enough to walk to a phone, shorter than most callers wait.
const DefaultRingSeconds = 30

var groups = entity[store.Group, GroupView]{
	kind: kindGroup,
	repo: store.Store.Groups,
	fields: map[string]string{"number": "NUMBER", "name": "--name", "strategy": "--strategy", "ring_seconds": "--ring-seconds",
		"members": "--member", "extension_id": "--member", "ranges": "--ext-range", "did": "--did", "overflow": "--overflow"},
	view: func(n *names, g *store.Group) GroupView {
		v := GroupView{Group: *g, MemberNumbers: []string{}}
		for _, id := range g.Members {
			v.MemberNumbers = append(v.MemberNumbers, n.ext(id))
		}
		return v
	},
	key: func(k string) (string, error) { return CheckNumber("NUMBER", k) },
}

func (s *Service) applyGroup(ctx context.Context, t store.Tenant, g *store.Group, in GroupInput) error {
	str(&g.Name, in.Name)
	if err := required("--name", g.Name, `give the group's name, e.g. --name "Sentralbord"`); err != nil {
		return err
	}
	if in.Strategy != nil {
		switch st := store.GroupStrategy(strings.ToLower(strings.TrimSpace(*in.Strategy))); st {
		case store.GroupSimultaneous, store.GroupHunt:
			g.Strategy = st
		default:
			return Invalid("--strategy", *in.Strategy, "unknown ring strategy", "use simultaneous (all members ring at once) or hunt (one after another, in --member order)")
		}
	}
	if in.RingSeconds != nil {
		if *in.RingSeconds < 5 || *in.RingSeconds > 600 {
			return Invalid("--ring-seconds", fmt.Sprint(*in.RingSeconds), "is out of range", "use 5 to 600 seconds")
		}
		g.RingSeconds = *in.RingSeconds
	}
	if in.Members != nil {
		members := []int64{}
		seen := map[string]bool{}
		for _, m := range *in.Members {
			m = strings.TrimSpace(m)
			if seen[m] {
				return Invalid("--member", m, "is given twice", "give each member once, in the order they should ring")
			}
			seen[m] = true
			e, err := s.findExt(ctx, s.st, t, "--member", m)
			if err != nil {
				return err
			}
			members = append(members, e.ID)
		}
		g.Members = members
	}
	if g.Members == nil {
		g.Members = []int64{}
	}
	if in.DID != nil {
		var err error
		if g.DID, err = checkOwnDID("--did", *in.DID, t); err != nil {
			return err
		}
	}
	if in.Overflow != nil {
		var err error
		if g.Overflow, err = checkTarget(ctx, s.st, t, "--overflow", *in.Overflow, g.Number, true); err != nil {
			return err
		}
	}
	return nil
}

// AddGroup creates a ring group with its own number in the tenant's ranges.
func (s *Service) AddGroup(ctx context.Context, tenant, number string, in GroupInput) (GroupView, error) {
	return groups.add(ctx, s, tenant, number, func(t store.Tenant, key string, g *store.Group) error {
		if err := checkInRange("NUMBER", key, t); err != nil {
			return err
		}
		*g = store.Group{TenantID: t.ID, Number: key, Strategy: store.GroupSimultaneous, RingSeconds: DefaultRingSeconds}
		return s.applyGroup(ctx, t, g, in)
	})
}

// UpdateGroup changes the given fields of a group.
func (s *Service) UpdateGroup(ctx context.Context, tenant, number string, in GroupInput) (GroupView, error) {
	return groups.update(ctx, s, tenant, number, func(t store.Tenant, g *store.Group) error { return s.applyGroup(ctx, t, g, in) })
}

// RemoveGroup deletes a group.
func (s *Service) RemoveGroup(ctx context.Context, tenant, number string) (GroupView, error) {
	return groups.remove(ctx, s, tenant, number)
}

// Group shows one group.
func (s *Service) Group(ctx context.Context, tenant, number string) (GroupView, error) {
	return groups.get(ctx, s, tenant, number)
}

// Groups lists a tenant's groups.
func (s *Service) Groups(ctx context.Context, tenant string) ([]GroupView, error) {
	return groups.list(ctx, s, tenant)
}
