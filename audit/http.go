package audit

import (
	"net/http"

	"github.com/sentralpbx/sentral/store"
)

// maxErrorBody bounds the error answer a StatusWriter keeps.
const maxErrorBody = 2 << 10

// StatusWriter wraps a handler's ResponseWriter to learn the status it
// answered and, for errors, the start of the body: an audited request's
// outcome and the reason shown to the user.
type StatusWriter struct {
	http.ResponseWriter
	code int
	body []byte
}

// NewStatusWriter wraps w.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter { return &StatusWriter{ResponseWriter: w} }

// WriteHeader records the first status.
func (w *StatusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write keeps the start of an error body.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.code >= 400 && len(w.body) < maxErrorBody {
		w.body = append(w.body, b[:min(len(b), maxErrorBody-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status is the status answered (200 when the handler wrote nothing).
func (w *StatusWriter) Status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// ErrorBody is the start of the body of an error answer.
func (w *StatusWriter) ErrorBody() []byte { return w.body }

// Outcome classifies an HTTP status: ok below 400, denied for refusals
// of who asked (401, 403, 423 locked, 429 throttled), error otherwise.
func Outcome(code int) string {
	switch {
	case code < 400:
		return store.AuditOK
	case code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusLocked, code == http.StatusTooManyRequests:
		return store.AuditDenied
	}
	return store.AuditError
}
