#pragma once
// The backend-neutral steps of Store::ArchiveAudit (`holdgate audit archive`), shared by the SQLite
// and the PostgreSQL store: the request's checks, writing and checking the archive file (format in
// audit.h), and the audit.archived event the prune appends. Each store plans the cut and prunes
// in its own write transaction. Everything here blocks (file I/O, store reads); no shared state.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/audit.h"

namespace holdgate::store {

class Store;
struct AuditArchiveOptions;
struct AuditArchiveResult;

// Refuses a request before anything is written: no file path or cut point (kInvalidArgument), an
// existing file (kConflict). With a checkpoint key the whole chain must verify with it (kConflict
// otherwise), so a new signed anchor never vouches for an unvouched one below it; without one, a
// chain that already carries signed checkpoints is refused (kInvalidArgument): its new anchor
// would stay unvouched.
Status CheckAuditArchiveRequest(Store& store, const AuditArchiveOptions& options);

// One page of events with seq > after and seq <= cut, in seq order (empty: none left).
using AuditPageReader = std::function<Result<std::vector<AuditEvent>>(int64_t after, int64_t cut)>;

// Writes the events start.seq+1 .. cut, read page by page, to a new archive file `path` (0600;
// written whole as `<path>.partial`, fsynced, then linked to `path`, never replacing a file),
// checking every event's hash and link as it goes (kConflict on a broken chain or rows that
// vanished). Returns the trailer written. On an error no file is left behind. REQUIRES cut >
// start.seq.
Result<AuditArchiveInfo> WriteAuditArchive(const std::string& path, const AuditChainPoint& start, int64_t cut,
                                           int64_t now_ms, const AuditPageReader& read_page);

// The answer when nothing older than `cut` is left after `start` (cut <= start.seq): an empty range
// that starts and ends at `start`.
AuditArchiveResult NothingToArchive(const AuditChainPoint& start);

// The "audit.archived" event appended in the prune's transaction.
AuditEvent AuditArchivedEvent(const AuditArchiveOptions& options, const AuditArchiveInfo& info);

}  // namespace holdgate::store
