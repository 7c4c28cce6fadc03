package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sentralpbx/sentral/store"
)

// entity is the shape every tenant-scoped inventory noun shares: resolve
// the tenant, find by natural key, validate, write, explain refusals, and
// answer with a view that names references by their natural keys. Each
// noun supplies only what differs.
type entity[T, V any] struct {
	kind   kind
	repo   func(store.Store) store.Repo[T]
	fields map[string]string            // store field -> CLI flag, for Explain
	view   func(n *names, v *T) V       // nil: V must be T
	key    func(string) (string, error) // normalises the key argument; nil trims
	byID   bool                         // an all-digit key is an ID (keys that may be empty)
}

func (e entity[T, V]) normKey(key string) (string, error) {
	if e.key != nil {
		return e.key(key)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", Invalid(e.kind.key, key, "is required", fmt.Sprintf("name the %s, see `sentral %s list`", e.kind.name, e.kind.noun))
	}
	return key, nil
}

func (e entity[T, V]) toView(ctx context.Context, st store.Store, t store.Tenant, v *T) (V, error) {
	if e.view == nil {
		return any(*v).(V), nil
	}
	n := newNames(ctx, st, t.ID)
	out := e.view(n, v)
	return out, n.err
}

func (e entity[T, V]) find(ctx context.Context, st store.Store, t store.Tenant, key string) (T, error) {
	if e.byID {
		if id, err := strconv.ParseInt(key, 10, 64); err == nil {
			v, err := e.repo(st).Get(ctx, id)
			if err == nil && tenantOf(&v) == t.ID {
				return v, nil
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return v, fmt.Errorf("get %s %d: %w", e.kind.name, id, err)
			}
			return v, e.kind.notFound(e.kind.key, key, t, store.ErrNotFound)
		}
	}
	k, err := e.normKey(key)
	if err != nil {
		var zero T
		return zero, err
	}
	return find(ctx, e.repo(st), t, e.kind, e.kind.key, k)
}

func (e entity[T, V]) explain(err error) error {
	fields := map[string]string{"id": e.kind.key}
	for k, v := range e.fields {
		fields[k] = v
	}
	return explainDID(err, e.kind.noun, fields)
}

// add builds a new entity with build (which sets its key and fields) and creates it.
func (e entity[T, V]) add(ctx context.Context, s *Service, tenant, key string, build func(t store.Tenant, key string, v *T) error) (V, error) {
	var zero V
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return zero, err
	}
	if e.kind.key != "" && !e.byID {
		if key, err = e.normKey(key); err != nil {
			return zero, err
		}
	}
	var v T
	if err := build(t, key, &v); err != nil {
		return zero, err
	}
	if err := e.repo(s.st).Create(ctx, &v); err != nil {
		return zero, fmt.Errorf("add %s %s: %w", e.kind.name, key, e.explain(err))
	}
	return e.toView(ctx, s.st, t, &v)
}

// update finds the entity, lets apply change it and writes it back.
func (e entity[T, V]) update(ctx context.Context, s *Service, tenant, key string, apply func(t store.Tenant, v *T) error) (V, error) {
	var zero V
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return zero, err
	}
	v, err := e.find(ctx, s.st, t, key)
	if err != nil {
		return zero, err
	}
	if err := apply(t, &v); err != nil {
		return zero, err
	}
	if err := e.repo(s.st).Update(ctx, &v); err != nil {
		return zero, fmt.Errorf("update %s %s: %w", e.kind.name, key, e.explain(err))
	}
	return e.toView(ctx, s.st, t, &v)
}

// remove deletes the entity and answers with what it was.
func (e entity[T, V]) remove(ctx context.Context, s *Service, tenant, key string) (V, error) {
	var zero V
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return zero, err
	}
	v, err := e.find(ctx, s.st, t, key)
	if err != nil {
		return zero, err
	}
	out, err := e.toView(ctx, s.st, t, &v)
	if err != nil {
		return zero, err
	}
	if err := e.repo(s.st).Delete(ctx, idOf(&v)); err != nil {
		return zero, fmt.Errorf("remove %s %s: %w", e.kind.name, key, e.explain(err))
	}
	return out, nil
}

// get finds one entity.
func (e entity[T, V]) get(ctx context.Context, s *Service, tenant, key string) (V, error) {
	var zero V
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return zero, err
	}
	v, err := e.find(ctx, s.st, t, key)
	if err != nil {
		return zero, err
	}
	return e.toView(ctx, s.st, t, &v)
}

// list lists the tenant's entities.
func (e entity[T, V]) list(ctx context.Context, s *Service, tenant string) ([]V, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	items, err := e.repo(s.st).List(ctx, store.ListOptions{TenantID: t.ID})
	if err != nil {
		return nil, fmt.Errorf("list %ss of %s: %w", e.kind.name, t.Name, err)
	}
	n := newNames(ctx, s.st, t.ID)
	out := make([]V, 0, len(items))
	for i := range items {
		if e.view == nil {
			out = append(out, any(items[i]).(V))
		} else {
			out = append(out, e.view(n, &items[i]))
		}
	}
	return out, n.err
}
