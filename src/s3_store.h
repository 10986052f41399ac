// s3_store: the OutputStore on S3 (output.dir: s3://bucket/prefix). S3 has no
// rename, exchange or fsync and a listing is no commit record, so:
//
//   prefix/<target>/.a-<run-id>-<attempt>/part-00000.parquet
//                        an attempt's files, under attempt-unique keys
//   prefix/<target>/_SUCCESS
//                        the marker, written last and conditionally
//                        (If-None-Match: * when there is none, If-Match: <its
//                        ETag> when replacing): it lists each file's key, size,
//                        xxh3 and ETag. An iteration exists only through it;
//                        readers and --resume read it, never a listing.
//   prefix/_fanout/runs/<run-id>.json   the run manifests
//   prefix/_fanout/lock  the run lock: created with If-None-Match: *, renewed
//                        (If-Match) while the run lives, taken over (If-Match
//                        on the stale ETag) once its expiry has passed,
//                        released by a DELETE with If-Match: <its ETag> (a
//                        store without conditional deletes: read, then
//                        deleted if still ours).
//
// Replacing an output uploads the new files, swaps the marker, and only then
// deletes the old files. A failed or killed attempt leaves no marker; its
// objects and multipart uploads are removed by the next run's BeginRun and by
// CollectGarbage (`fanout gc`). The engine writes into a local staging folder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fanout/store.h"
#include "s3_client.h"
#include "storage.h"

namespace fanout {

bool IsS3Location(const std::string& location);

struct S3StoreOptions {
  double lock_ttl_seconds = 60;  // a lock not renewed for this long may be taken over
  int64_t part_size = 64 << 20;  // multipart above this
  int64_t read_chunk = 64 << 20;  // --verify reads objects back in ranged GETs of this size
};

std::shared_ptr<OutputStore> NewS3Store(const std::string& location, std::shared_ptr<S3Client> client,
                                        S3StoreOptions options = {});

// The store at `location` with a client configured from the environment
// (s3_config.h); Invalid when the URL or the credentials are wrong.
Result<std::shared_ptr<OutputStore>> OpenS3Store(const std::string& location);

// Objects under the prefix no marker references (killed attempts, replaced
// outputs) and stale multipart uploads: removed (`dry_run`: only listed).
// Only attempt objects (<target>/.a-<run>-<attempt>/part-*) are candidates:
// a committed output's objects (its marker lists them), a target whose
// marker cannot be read and anything not fanout's are never touched. The
// caller holds the run lock (no live attempt then). What was removed.
//
// And, on this machine, the local staging folders (TMPDIR/fanout-s3-staging-*,
// of any output) that runs killed before their end left: only those no live
// process owns (the owner file each run flocks while it lasts; owner_lock.h).
struct CollectReport {
  int64_t objects = 0, uploads = 0;
  std::vector<std::string> removed;  // s3://bucket/key of each object
  std::vector<std::string> aborted;  // s3://bucket/key of each upload aborted
  std::vector<std::string> staging;  // each local staging folder of a dead run
};
Result<CollectReport> CollectGarbage(OutputStore& store, bool dry_run = false);

// The output store at `location`: S3 for s3://..., else the local
// filesystem (through `files` when given). The one factory the CLI and
// OpenJob use.
Result<std::shared_ptr<OutputStore>> OpenOutputStore(const std::string& location,
                                                     std::shared_ptr<Storage> files = nullptr);

}  // namespace fanout
