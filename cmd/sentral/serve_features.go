package main

import (
	"context"
	"fmt"

	"github.com/sentralpbx/sentral/provisioning"
	"github.com/sentralpbx/sentral/sip/routing"
	"github.com/sentralpbx/sentral/store/catalog"
)

// featureApplier applies the settings phones change with feature codes
// (proxy.Features) through the provisioning service: the same checks as
// the CLI, and the change goes through the store, so the catalog of every
// node picks it up.
type featureApplier struct {
	prov *provisioning.Service
	cat  *catalog.Catalog
}

// Apply changes ext's forwards or do-not-disturb as op says.
func (f featureApplier) Apply(ctx context.Context, tenantID int64, ext string, op routing.FeatureOp) error {
	t, ok := f.cat.Tenant(tenantID)
	if !ok {
		return fmt.Errorf("feature code: tenant %d is gone", tenantID)
	}
	switch op.Kind {
	case routing.FeatureDND:
		if _, err := f.prov.SetDND(ctx, t.Name, ext, op.On); err != nil {
			return fmt.Errorf("feature code: do not disturb: %w", err)
		}
		return nil
	case routing.FeatureForward:
		kinds := []provisioning.ForwardKind{provisioning.ForwardKind(op.Forward)}
		if op.Forward == routing.ForwardAll {
			kinds = []provisioning.ForwardKind{provisioning.ForwardAlways, provisioning.ForwardBusy, provisioning.ForwardNoAnswer}
		}
		for _, k := range kinds {
			if _, err := f.prov.SetForward(ctx, t.Name, ext, k, op.Target, op.Seconds); err != nil {
				return fmt.Errorf("feature code: forward %s: %w", k, err)
			}
		}
		return nil
	}
	return fmt.Errorf("feature code: unknown kind %q", op.Kind)
}
