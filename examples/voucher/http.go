package main

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/ramadani/andromeda"
)

// routes serves the voucher API. Every answer is JSON, the mux's own 404 and 405
// included.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /vouchers/{code}/claim", s.handleClaim)
	mux.HandleFunc("POST /vouchers/{code}/unclaim", s.handleUnclaim)
	mux.HandleFunc("GET /vouchers/{code}", s.handleStatus)
	mux.HandleFunc("GET /healthz", handleHealth)
	return jsonMisses(mux)
}

// jsonMisses answers the requests mux has no handler for (404, or 405 for a known path
// with another method) in JSON, keeping the status and the Allow header mux gives them.
func jsonMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		miss := &statusOnly{header: http.Header{}}
		h.ServeHTTP(miss, r)
		if allow := miss.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := "no such route: " + r.URL.Path
		if miss.status == http.StatusMethodNotAllowed {
			msg = "method " + r.Method + " not allowed here; allowed: " + miss.header.Get("Allow")
		}
		writeJSON(w, miss.status, errorBody{msg})
	})
}

// statusOnly records the status and headers a handler writes, and drops its body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header { return s.header }

func (s *statusOnly) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}

func (s *statusOnly) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

// handleHealth answers once the service serves: the database and Redis are open.
func handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type claimRequest struct {
	UserID string `json:"user_id"`
}

func (s *service) handleClaim(w http.ResponseWriter, r *http.Request) {
	userID, ok := readUser(w, r)
	if !ok {
		return
	}
	history, err := s.Claim(r.Context(), r.PathValue("code"), userID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, history)
}

func (s *service) handleUnclaim(w http.ResponseWriter, r *http.Request) {
	userID, ok := readUser(w, r)
	if !ok {
		return
	}
	usage, err := s.Unclaim(r.Context(), r.PathValue("code"), userID)
	if errors.Is(err, errUnclaimedQuotaKept) {
		// The claim is removed, as asked; only the quota's usage lags (logged).
		s.log("%s %s: %v", r.Method, r.URL.Path, err)
		writeJSON(w, http.StatusOK, map[string]*int64{"usage": nil})
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]*int64{"usage": &usage})
}

func (s *service) handleStatus(w http.ResponseWriter, r *http.Request) {
	status, err := s.Status(r.Context(), r.PathValue("code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, status)
}

// maxBody is the largest request body read.
const maxBody = 1 << 10

// readUser reads {"user_id": "..."} from the body, and nothing more: an unknown field or
// anything after the object answers 400 (413 for a body over maxBody).
func readUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	const want = `body must be one JSON object like {"user_id": "u-1"}`
	var req claimRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if extra := dec.Decode(new(json.RawMessage)); !errors.Is(extra, io.EOF) {
			err = errors.New("data after the object")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{"body over 1 KiB"})
		return "", false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, errorBody{want + ": " + err.Error()})
		return "", false
	case strings.TrimSpace(req.UserID) == "":
		writeJSON(w, http.StatusBadRequest, errorBody{"user_id is required"})
		return "", false
	}
	return req.UserID, true
}

type errorBody struct {
	Error string `json:"error"`
}

// Public answers for the errors whose text is not for clients: it names Redis keys,
// limits and internal state.
var (
	msgExhausted   = "the voucher has been fully claimed"
	msgUnavailable = "the service is busy; try again shortly"
	msgInternal    = "internal error"
)

// writeError answers err with its status and a message meant for clients: the service's
// own errors as they are, the library's and the database's replaced by a public text
// (the full error is logged).
func (s *service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, msgInternal
	switch {
	case errors.Is(err, errUnknownVoucher), errors.Is(err, errNotClaimed):
		status, msg = http.StatusNotFound, publicError(err)
	case errors.Is(err, errAlreadyClaimed):
		status, msg = http.StatusConflict, errAlreadyClaimed.Error()
	case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
		status, msg = http.StatusConflict, msgExhausted
	case errors.Is(err, andromeda.ErrMaxRetryExceeded), errors.Is(err, andromeda.ErrLockedKey),
		errors.Is(err, andromeda.ErrRedisUnavailable), errors.Is(err, andromeda.ErrUnknownOutcome):
		// An unknown outcome was retried with the claim's key already; the claim itself was
		// rolled back, so the user may try again (the unit may stay counted: never oversold).
		status, msg = http.StatusServiceUnavailable, msgUnavailable
	}
	if status >= http.StatusInternalServerError {
		s.log("%s %s: %v", r.Method, r.URL.Path, err)
	}
	writeJSON(w, status, errorBody{msg})
}

// publicError is the service's own error within err.
func publicError(err error) string {
	for _, own := range []error{errUnknownVoucher, errNotClaimed} {
		if errors.Is(err, own) {
			return own.Error()
		}
	}
	return msgInternal
}

func (s *service) log(format string, args ...any) {
	if s.logf != nil {
		s.logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
