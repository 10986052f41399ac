#!/bin/sh
# mpirun's launch agent in the multi-host test (instead of ssh): Open MPI
# calls "agent HOST COMMAND..." to start its daemon on HOST; this runs
# COMMAND inside HOST's network namespace ($FANOUT_NETNS_PREFIX$HOST) and
# under HOST as hostname (a UTS namespace of its own), as ssh would run it
# there: through a shell.
host=$1
shift
exec ip netns exec "$FANOUT_NETNS_PREFIX$host" unshare --uts sh -c "hostname $host && $*"
