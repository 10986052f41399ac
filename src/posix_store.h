// posix_store: the output store on a local (or mounted) filesystem — today's
// commit protocol: staging folders under OUT/.fanout-staging, group commit
// (one syncfs and one fsync of OUT for every attempt ready at once), publish
// by rename or renameat2(RENAME_EXCHANGE), manifests written atomically under
// OUT/_fanout/runs, an flock on OUT/_fanout/lock. Every call goes through
// the file seam (storage.h), so fault-injecting wrappers see all of them.
#pragma once

#include <memory>
#include <string>

#include "fanout/store.h"
#include "storage.h"

namespace fanout {

std::shared_ptr<OutputStore> NewPosixStore(const std::string& out_dir, std::shared_ptr<Storage> files);

}  // namespace fanout
