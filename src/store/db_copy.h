#pragma once
// `holdgate db copy`: moves a holdgate SQLite database into an empty PostgreSQL database (the
// migration to several replicas). Every row is copied as it is: approvals, votes, comments,
// audit events (seq, prev_hash and hash unchanged, so the chain verifies in the copy exactly as
// it did in the file), archive anchors and the outbox.
//
// Blocking (file and network I/O); run it with holdgate stopped (the copy is a snapshot of the
// file: writes made to the file afterwards are not in it).
#include <cstdint>
#include <string>

#include "common/status.h"

namespace holdgate::store {

struct CopyReport {
  int64_t approvals = 0;
  int64_t votes = 0;
  int64_t comments = 0;
  int64_t audit_events = 0;
  int64_t anchors = 0;
  int64_t outbox = 0;
  int64_t audit_head_seq = 0;
};

// Copies the SQLite database `from_file` into the PostgreSQL database `to_url` (its schema is
// created or migrated first) in one transaction. kNotFound when the file does not exist;
// kInvalidArgument when `to_url` is not a PostgreSQL URL; kAlreadyExists when the target already
// holds approvals or audit events (nothing is written); kConflict when the file's own audit
// chain does not verify (a broken chain is not carried over silently).
Result<CopyReport> CopyDatabase(const std::string& from_file, const std::string& to_url);

}  // namespace holdgate::store
