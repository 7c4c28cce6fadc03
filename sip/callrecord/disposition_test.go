package callrecord

import (
	"testing"

	"github.com/sentralpbx/sentral/store"
)

func TestDispositionFor(t *testing.T) {
	for _, tc := range []struct {
		status    int
		cancelled bool
		want      store.Disposition
	}{
		{200, false, store.DispositionAnswered},
		{202, false, store.DispositionAnswered},
		{200, true, store.DispositionAnswered}, // the 200 crossed the CANCEL: answered
		{486, false, store.DispositionBusy},
		{600, false, store.DispositionBusy},
		{486, true, store.DispositionBusy}, // busy came before the CANCEL took effect
		{408, false, store.DispositionNoAnswer},
		{480, false, store.DispositionNoAnswer},
		{408, true, store.DispositionNoAnswer},
		{487, true, store.DispositionCancelled},
		{0, true, store.DispositionCancelled}, // cancelled before any final status was sent
		{487, false, store.DispositionFailed}, // no CANCEL from the caller explains it
		{0, false, store.DispositionFailed},   // no final response at all
		{404, false, store.DispositionFailed},
		{403, false, store.DispositionFailed},
		{503, false, store.DispositionFailed},
		{603, false, store.DispositionFailed},
		{302, false, store.DispositionFailed},
		{183, false, store.DispositionFailed}, // not a final status
	} {
		if got := DispositionFor(tc.status, tc.cancelled); got != tc.want {
			t.Errorf("DispositionFor(%d, cancelled=%v) = %q, want %q", tc.status, tc.cancelled, got, tc.want)
		}
	}
}
