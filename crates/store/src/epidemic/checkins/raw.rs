//! A minimal safe wrapper over the raw SQLite handle of the check-in writer's connection.
//!
//! sqlx runs every statement on its connection's worker thread and hands each result and row
//! back through a channel, waking the caller with a futex each time; with the conversions of
//! the `Any` driver, a profile of the check-in bench put that at about a fifth of all CPU,
//! more than SQLite's own work. The writer has a thread of its own, so it can call SQLite
//! directly while it holds the connection's lock ([`sqlx::sqlite::LockedSqliteHandle`]).
//!
//! Soundness rests on three points, each kept by the types below:
//! - the handle is used only while the `LockedSqliteHandle` it came from is borrowed (the
//!   lifetime of [`Raw`]), so sqlx's worker thread cannot touch the connection meanwhile;
//!   `Raw` and `Stmt` are neither `Send` nor `Sync` (they hold raw pointers), so the
//!   connection, opened in SQLite's multi-thread mode, is used by one thread at a time;
//! - a statement borrows its connection and is finalized in `Drop`, so it never outlives it
//!   and is never used after finalization;
//! - column values are read only while the statement is on a row and for an index SQLite
//!   says the row has (`sqlite3_data_count`), and are copied out before the next step; text
//!   is bound with `SQLITE_TRANSIENT`, so SQLite keeps its own copy.
#![allow(unsafe_code)]

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

use crate::StoreError;

/// The writer's connection, locked away from sqlx's worker thread for as long as this lives.
pub(super) struct Raw<'a> {
    db: NonNull<ffi::sqlite3>,
    _lock: PhantomData<&'a mut ()>,
}

impl<'a> Raw<'a> {
    pub(super) fn new(handle: &'a mut sqlx::sqlite::LockedSqliteHandle<'_>) -> Raw<'a> {
        Raw {
            db: handle.as_raw_handle(),
            _lock: PhantomData,
        }
    }

    /// Runs SQL without parameters or results (BEGIN, COMMIT, ROLLBACK).
    pub(super) fn exec(&self, sql: &CStr) -> Result<(), StoreError> {
        // SAFETY: a live connection (see the module doc), a NUL-terminated string, no callback.
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db.as_ptr(),
                sql.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        self.check(rc)
    }

    pub(super) fn prepare(&self, sql: &CStr) -> Result<Stmt<'_>, StoreError> {
        let mut stmt = ptr::null_mut();
        // SAFETY: a live connection, a NUL-terminated string (-1: read up to the NUL), and an
        // out-pointer SQLite sets to a new statement or to NULL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db.as_ptr(),
                sql.as_ptr(),
                -1,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        self.check(rc)?;
        let stmt = NonNull::new(stmt)
            .ok_or_else(|| StoreError::Internal("SQLite: empty statement".into()))?;
        Ok(Stmt { stmt, conn: self })
    }

    /// The rowid of the last successful INSERT on this connection.
    pub(super) fn last_insert_rowid(&self) -> i64 {
        // SAFETY: a live connection.
        unsafe { ffi::sqlite3_last_insert_rowid(self.db.as_ptr()) }
    }

    /// Whether a transaction is open (autocommit is off).
    pub(super) fn in_transaction(&self) -> bool {
        // SAFETY: a live connection.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) == 0 }
    }

    fn check(&self, rc: c_int) -> Result<(), StoreError> {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.error(rc))
        }
    }

    fn error(&self, rc: c_int) -> StoreError {
        // SAFETY: a live connection; SQLite returns a NUL-terminated string it owns, valid
        // until the next call on the connection, and copied here at once.
        let message = unsafe {
            let p = ffi::sqlite3_errmsg(self.db.as_ptr());
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        StoreError::Internal(format!("SQLite error {rc}: {message}"))
    }
}

/// A prepared statement of a [`Raw`] connection, finalized when dropped.
pub(super) struct Stmt<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    conn: &'c Raw<'c>,
}

impl Stmt<'_> {
    pub(super) fn bind_int(&mut self, index: c_int, value: i64) -> Result<(), StoreError> {
        // SAFETY: a live statement; a wrong index is reported as SQLITE_RANGE.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), index, value) };
        self.conn.check(rc)
    }

    pub(super) fn bind_opt_int(
        &mut self,
        index: c_int,
        value: Option<i64>,
    ) -> Result<(), StoreError> {
        match value {
            Some(v) => self.bind_int(index, v),
            None => {
                // SAFETY: as for bind_int.
                let rc = unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), index) };
                self.conn.check(rc)
            }
        }
    }

    pub(super) fn bind_text(&mut self, index: c_int, value: &str) -> Result<(), StoreError> {
        let len = c_int::try_from(value.len())
            .map_err(|_| StoreError::Internal("SQLite: text parameter too long".into()))?;
        // SAFETY: a live statement; `value` is valid for `len` bytes during the call and
        // SQLITE_TRANSIENT makes SQLite copy them before it returns.
        let rc = unsafe {
            ffi::sqlite3_bind_text(
                self.stmt.as_ptr(),
                index,
                value.as_ptr().cast(),
                len,
                ffi::SQLITE_TRANSIENT(),
            )
        };
        self.conn.check(rc)
    }

    /// Runs the statement to its next row: `true` on a row, `false` when done.
    pub(super) fn step(&mut self) -> Result<bool, StoreError> {
        // SAFETY: a live statement.
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        match rc {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(self.conn.error(rc)),
        }
    }

    /// Makes the statement ready to run again (bindings are kept until rebound).
    pub(super) fn reset(&mut self) {
        // SAFETY: a live statement. The code returned repeats the last step's error, which
        // that step already reported.
        unsafe { ffi::sqlite3_reset(self.stmt.as_ptr()) };
    }

    /// Whether the current row has column `col` (false when not on a row).
    fn has(&self, col: c_int) -> bool {
        // SAFETY: a live statement; sqlite3_data_count is 0 unless it is on a row.
        col >= 0 && col < unsafe { ffi::sqlite3_data_count(self.stmt.as_ptr()) }
    }

    /// An integer column of the current row (NULL reads as 0).
    pub(super) fn int(&self, col: c_int) -> Result<i64, StoreError> {
        if !self.has(col) {
            return Err(StoreError::Internal(format!("SQLite: no column {col}")));
        }
        // SAFETY: on a row that has `col` (checked above).
        Ok(unsafe { ffi::sqlite3_column_int64(self.stmt.as_ptr(), col) })
    }

    /// A text column of the current row, copied out; `None` for NULL.
    pub(super) fn text(&self, col: c_int) -> Result<Option<String>, StoreError> {
        if !self.has(col) {
            return Err(StoreError::Internal(format!("SQLite: no column {col}")));
        }
        // SAFETY: on a row that has `col`. sqlite3_column_text returns NULL for a NULL value
        // (or on out-of-memory) and otherwise a buffer of sqlite3_column_bytes bytes (asked
        // after it, as SQLite requires), valid until the next step, reset or finalize; the
        // bytes are copied before this returns.
        let bytes = unsafe {
            let stmt = self.stmt.as_ptr();
            if ffi::sqlite3_column_type(stmt, col) == ffi::SQLITE_NULL {
                return Ok(None);
            }
            let p = ffi::sqlite3_column_text(stmt, col);
            if p.is_null() {
                return Err(StoreError::Internal("SQLite: out of memory".into()));
            }
            let n = usize::try_from(ffi::sqlite3_column_bytes(stmt, col)).unwrap_or(0);
            std::slice::from_raw_parts(p, n).to_vec()
        };
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError::Internal(format!("SQLite: column {col} is not UTF-8")))
    }
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and is not used again.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}
