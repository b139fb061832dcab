package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Voucher is the spec's quota entity.
type Voucher struct {
	ID     string    `json:"id"`
	Code   string    `json:"code"`
	Limit  int64     `json:"limit"`
	Usage  int64     `json:"usage"` // as last synced from Redis
	EndsAt time.Time `json:"ends_at"`
}

// History records one claim of a voucher by a user.
type History struct {
	ID        string    `json:"id"`
	VoucherID string    `json:"voucher_id"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

var (
	errUnknownVoucher = errors.New("unknown voucher code")
	errAlreadyClaimed = errors.New("this user has already claimed the voucher")
	errNotClaimed     = errors.New("this user has not claimed the voucher")
	// errUnclaimedQuotaKept: the claim was removed, but giving its unit back failed.
	errUnclaimedQuotaKept = errors.New("unclaimed, quota not given back")
)

// The same SQL serves SQLite and PostgreSQL: both take $1 placeholders.
const schema = `
CREATE TABLE IF NOT EXISTS vouchers (
	id          TEXT PRIMARY KEY,
	code        TEXT NOT NULL UNIQUE,
	quota_limit BIGINT NOT NULL CHECK (quota_limit >= 0),
	usage       BIGINT NOT NULL DEFAULT 0,
	ends_at     BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS histories (
	id         TEXT PRIMARY KEY,
	voucher_id TEXT NOT NULL REFERENCES vouchers (id),
	user_id    TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	UNIQUE (voucher_id, user_id)
);`

// store keeps vouchers and their claim histories in SQL.
type store struct {
	db *sql.DB
}

// openStore opens PostgreSQL when postgresDSN is set, SQLite at sqlitePath otherwise, and
// creates the tables if they are missing.
func openStore(ctx context.Context, postgresDSN, sqlitePath string) (*store, error) {
	driver, dsn := "pgx", postgresDSN
	if postgresDSN == "" {
		// WAL lets the usage loader read while a claim's transaction writes; the busy
		// timeout queues writers instead of failing them.
		driver, dsn = "sqlite", "file:"+sqlitePath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	for _, statement := range splitStatements(schema) {
		if _, err := db.ExecContext(ctx, statement); err != nil {
			db.Close()
			return nil, fmt.Errorf("create tables: %w", err)
		}
	}
	return &store{db: db}, nil
}

func splitStatements(sqlText string) []string {
	var out []string
	for _, s := range strings.Split(sqlText, ";") {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

// addVoucher inserts v unless a voucher with its ID exists.
func (s *store) addVoucher(ctx context.Context, v Voucher) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO vouchers (id, code, quota_limit, usage, ends_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		v.ID, v.Code, v.Limit, v.Usage, v.EndsAt.Unix())
	return err
}

func (s *store) findBy(ctx context.Context, column, value string) (*Voucher, error) {
	var v Voucher
	var endsAt int64
	err := s.db.QueryRowContext(ctx,
		`SELECT id, code, quota_limit, usage, ends_at FROM vouchers WHERE `+column+` = $1`, value).
		Scan(&v.ID, &v.Code, &v.Limit, &v.Usage, &endsAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnknownVoucher
	}
	if err != nil {
		return nil, err
	}
	v.EndsAt = time.Unix(endsAt, 0).UTC()
	return &v, nil
}

// FindByID finds a voucher by its ID.
func (s *store) FindByID(ctx context.Context, id string) (*Voucher, error) {
	return s.findBy(ctx, "id", id)
}

// FindByCode finds a voucher by its code.
func (s *store) FindByCode(ctx context.Context, code string) (*Voucher, error) {
	return s.findBy(ctx, "code", code)
}

// countClaims counts the claims kept for a voucher: the usage the database is sure of.
func (s *store) countClaims(ctx context.Context, voucherID string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM histories WHERE voucher_id = $1`, voucherID).Scan(&n)
	return n, err
}

func insertHistory(ctx context.Context, tx *sql.Tx, h *History) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO histories (id, voucher_id, user_id, created_at) VALUES ($1, $2, $3, $4)`,
		h.ID, h.VoucherID, h.UserID, h.CreatedAt.UnixMilli())
	if isUniqueViolation(err) {
		return errAlreadyClaimed
	}
	return err
}

func deleteHistory(ctx context.Context, tx *sql.Tx, voucherID, userID string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM histories WHERE voucher_id = $1 AND user_id = $2`, voucherID, userID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(errNotClaimed, err)
	}
	return nil
}

// setLimit changes a voucher's limit.
func (s *store) setLimit(ctx context.Context, voucherID string, limit int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE vouchers SET quota_limit = $1 WHERE id = $2`, limit, voucherID)
	return err
}

// setUsage records the usage that Redis holds for a voucher.
func (s *store) setUsage(ctx context.Context, voucherID string, usage int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE vouchers SET usage = $1 WHERE id = $2`, usage, voucherID)
	return err
}

func (s *store) voucherIDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM vouchers ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	var sqliteErr *sqlite.Error
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == "23505"
	case errors.As(err, &sqliteErr):
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
