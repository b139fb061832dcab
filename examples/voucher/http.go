package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ramadani/andromeda"
)

// routes serves the voucher API.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /vouchers/{code}/claim", s.handleClaim)
	mux.HandleFunc("POST /vouchers/{code}/unclaim", s.handleUnclaim)
	mux.HandleFunc("GET /vouchers/{code}", s.handleStatus)
	return mux
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
		writeError(w, err)
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
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"usage": usage})
}

func (s *service) handleStatus(w http.ResponseWriter, r *http.Request) {
	status, err := s.Status(r.Context(), r.PathValue("code"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, status)
}

// readUser reads {"user_id": "..."} from the body, answering 400 when it is not there.
func readUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req claimRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{"body must be JSON like {\"user_id\": \"u-1\"}: " + err.Error()})
		return "", false
	}
	if strings.TrimSpace(req.UserID) == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{"user_id is required"})
		return "", false
	}
	return req.UserID, true
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errUnknownVoucher), errors.Is(err, errNotClaimed):
		status = http.StatusNotFound
	case errors.Is(err, andromeda.ErrQuotaLimitExceeded), errors.Is(err, errAlreadyClaimed):
		status = http.StatusConflict
	case errors.Is(err, andromeda.ErrMaxRetryExceeded), errors.Is(err, andromeda.ErrLockedKey):
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, errorBody{err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
